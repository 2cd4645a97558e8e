"""How a replica differs from the platform's records: per stream, the records lost, extra and stale.

Pure, so judgements are unit-tested from recorded evidence; `CheckContext.diff` cuts both sides
to what the connector keeps before it asks `compare`.
"""

from __future__ import annotations

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

    def phrase(self) -> str:
        """`contacts: lost 2 of 50 records (e.g. con_1); 3 records hold wrong values (e.g. ...)`."""
        parts = []
        if self.lost:
            parts.append(f"lost {len(self.lost)} of {self.truth} records (e.g. {self.lost[0]})")
        if self.extra:
            parts.append(
                f"stored {len(self.extra)} records the platform does not have (e.g. {self.extra[0]})"
            )
        if self.stale:
            first = self.stale[0]
            parts.append(
                f"{len(self.stale)} records hold wrong values (e.g. {first}: "
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
        diff.fields[i] = sorted(k for k in {*truth[i], *rows[i]} if rows[i].get(k) != truth[i].get(k))
    return diff if diff.lost or diff.extra or diff.stale else None
