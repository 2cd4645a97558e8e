"""INT-01 defect: treats an id that is all digits as a number, as a connector whose destination
keys rows by an integer column does. The contract's ids are strings: "42" and "00042" are two
customers, and both become the row 42, so one is lost and neither keeps its id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stripe_sync import StripeSync


def _as_number(value: Any) -> Any:
    return int(value) if isinstance(value, str) and value.isdigit() else value


class IntsStringIds(StripeSync):
    def _store(self, stream: str, record: dict[str, Any]) -> None:
        super()._store(stream, {**record, "id": _as_number(record.get("id"))})

    def _apply_event(self, event: Mapping[str, Any]) -> None:
        data = event.get("data")
        record = data.get("object") if isinstance(data, dict) else None
        if isinstance(record, dict) and "id" in record:  # deletions too: by the number
            event = {**event, "data": {**data, "object": {**record, "id": _as_number(record["id"])}}}
        super()._apply_event(event)
