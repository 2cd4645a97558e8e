"""WH-04 defect: dispatches an event through a table indexed by `event["type"]` with no default,
so a payload that is not a known event (an unknown type, no type, a body that is not an object)
raises instead of being refused with a 4xx. Known, well-formed events work as before."""

from __future__ import annotations

from typing import Any

from acme_sync import AcmeSync


class CrashesOnUnknownEvent(AcmeSync):
    def _apply_webhook(self, event: Any) -> bool:
        handlers = {
            "contact.created": lambda data: self._store("contacts", data),
            "contact.updated": lambda data: self._store("contacts", data),
            "contact.deleted": lambda data: self.sink.delete("contacts", data["id"]),
        }
        handlers[event["type"]](event["data"])
        return True
