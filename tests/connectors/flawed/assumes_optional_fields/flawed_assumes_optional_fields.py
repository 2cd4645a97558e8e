"""INT-01 defect: stores each declared field of a customer as a fixed column, read with a
default, as if every record had it. The contract makes them optional, and the platform leaves
some out: the replica holds a null the platform never sent (for `metadata`, which is never null,
one the schema forbids)."""

from __future__ import annotations

from typing import Any

from stripe_sync import StripeSync


class AssumesOptionalFields(StripeSync):
    def _store(self, stream: str, record: dict[str, Any]) -> None:
        keep = self._fields.get(stream)
        if keep:
            record = {"id": record.get("id"), **{key: record.get(key) for key in sorted(keep)}}
        super()._store(stream, record)
