"""How changes look from outside: event type names and webhook payloads, from the contract."""

from __future__ import annotations

from typing import Any

from harness.contract import Contract
from harness.contract.events import deleted_data, event_body, event_schema
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
        """The whole body of the event about `change`, in the contract's event shape (see
        harness.contract.events): the record, or for a deletion what the schema wants of it."""
        kind = self.event_type(change)
        schema = event_schema(self.contract, kind)
        record = change.record
        if record is None:
            record = deleted_data(self.contract, change.collection, schema, kind, change.id)
        return event_body(self.contract, schema, kind, record, when=change.time)
