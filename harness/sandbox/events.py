"""How changes look from outside: event type names and webhook payloads, from the contract."""

from __future__ import annotations

from typing import Any

from harness.contract import Contract
from harness.core.changes import singular
from harness.synth import Change

__all__ = ["EventShapes", "singular"]


class EventShapes:
    def __init__(self, contract: Contract) -> None:
        self.contract = contract

    def event_type(self, change: Change) -> str:
        return f"{singular(change.collection)}.{change.type}"

    def webhook_payload(self, change: Change) -> dict[str, Any]:
        """The `data` of a Standard Webhooks payload: the record, or just its id when deleted."""
        if change.record is not None:
            return {"data": change.record}
        id_field = self.contract.collections[change.collection].id_field
        return {"data": {id_field: change.id}}
