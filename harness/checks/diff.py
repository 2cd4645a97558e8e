"""How a replica differs from the platform's records: per stream, the records lost, extra and stale.

Pure, so judgements are unit-tested from recorded evidence; `CheckContext.diff` cuts both sides
to what the connector keeps before it asks `compare`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StreamDiff:
    """How one stream of a replica differs from the platform's records."""

    stream: str
    truth: int
    lost: list[Any] = field(default_factory=list)  # on the platform, not in the replica
    extra: list[Any] = field(default_factory=list)  # in the replica, gone from the platform
    stale: list[Any] = field(default_factory=list)  # in both, with different field values
    fields: dict[Any, list[str]] = field(default_factory=dict)  # stale id -> the fields that differ

    def retyped(self) -> str:
        """`, its string ids stored as numbers` when extra ids are numbers that lost string ids
        spell (`42` for `"42"` or `"00042"`); "" otherwise."""
        spelled = {int(i) for i in self.lost if isinstance(i, str) and i.isascii() and i.isdigit()}
        numbers = [i for i in self.extra if isinstance(i, int) and not isinstance(i, bool)]
        return ": the platform's string ids stored as numbers" if set(numbers) & spelled else ""

    def phrase(self) -> str:
        """`contacts: lost 2 of 50 records (e.g. con_1); 3 records hold wrong values (e.g. ...)`."""
        parts = []
        if self.lost:
            parts.append(f"lost {len(self.lost)} of {self.truth} records (e.g. {shown(self.lost[0])})")
        if self.extra:
            parts.append(
                f"stored {len(self.extra)} records the platform does not have "
                f"(e.g. {shown(self.extra[0])}){self.retyped()}"
            )
        if self.stale:
            first = self.stale[0]
            parts.append(
                f"{len(self.stale)} records hold wrong values (e.g. {shown(first)}: "
                f"{', '.join(self.fields[first]) or 'extra fields'})"
            )
        return f"{self.stream}: " + "; ".join(parts)


def compare(
    stream: str, truth: dict[Any, dict[str, Any]], rows: dict[Any, dict[str, Any]]
) -> StreamDiff | None:
    """How a stream's rows (id -> record) differ from ground truth (id -> record); None when equal.
    Pure: `CheckContext.diff` cuts both sides to what the connector keeps, then asks this."""
    diff = StreamDiff(stream, len(truth))
    diff.lost = [i for i in truth if i not in rows]
    diff.extra = [i for i in rows if i not in truth]
    diff.stale = [i for i in truth if i in rows and rows[i] != truth[i]]
    for i in diff.stale:
        diff.fields[i] = differing(truth[i], rows[i])
    return diff if diff.lost or diff.extra or diff.stale else None


def shown(record_id: Any) -> str:
    """An id as a message shows it: a string id that reads as a number in quotes (`"00042"`), so
    it is never taken for the number 42 a replica may hold instead."""
    if isinstance(record_id, str):
        try:
            float(record_id)
        except ValueError:
            return record_id
        return json.dumps(record_id)
    return str(record_id)


def differing(platform: Mapping[str, Any], stored: Mapping[str, Any]) -> list[str]:
    """The fields in which a stored record differs from the platform's, sorted. A field only one
    side has says so (`email (absent on the platform)`): a platform may leave an optional field
    out, and a replica that fills it in (with null or a default) does not hold what was sent."""
    out = []
    for name in sorted({*platform, *stored}, key=str):
        if name not in platform:
            out.append(f"{name} (absent on the platform)")
        elif name not in stored:
            out.append(f"{name} (absent in the replica)")
        elif stored[name] != platform[name]:
            out.append(str(name))
    return out
