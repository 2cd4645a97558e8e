"""How changes look from outside: event type names and webhook payloads, from the contract."""

from __future__ import annotations

from typing import Any

from harness.contract import Contract
from harness.contract.signing import signing_for
from harness.core.changes import singular
from harness.core.signing import Signing
from harness.synth import Change

__all__ = ["EventShapes", "singular"]


class EventShapes:
    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self._signing: dict[str, Signing] = {}

    def event_type(self, change: Change) -> str:
        return f"{singular(change.collection)}.{change.type}"

    def signing(self, event_type: str) -> Signing:
        """The scheme the contract signs this event type's deliveries with."""
        if event_type not in self._signing:
            self._signing[event_type] = signing_for(self.contract, event_type)
        return self._signing[event_type]

    def webhook_payload(self, change: Change) -> dict[str, Any]:
        """The `data` of a Standard Webhooks payload: the record, or just its id when deleted."""
        if change.record is not None:
            return {"data": change.record}
        id_field = self.contract.collections[change.collection].id_field
        return {"data": {id_field: change.id}}
