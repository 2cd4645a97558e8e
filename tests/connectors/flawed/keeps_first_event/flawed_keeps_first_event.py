"""INT-05 defect: the incremental sync coalesces each page of the change feed to one event per
record, but keeps the *first* event instead of the last: a record created and then updated keeps
its old values, one updated and then deleted comes back. Only a sequence of changes to the same
record between two syncs shows it, which is what the stateful property test explores."""

from __future__ import annotations

from typing import Any

from acme_sync import AcmeSync


class KeepsFirstEvent(AcmeSync):
    def _incremental_sync(self, events_cursor: str | None) -> None:
        for events, position in self._feed(events_cursor):
            first: dict[Any, Any] = {}
            for event in events:
                kind = str(event.get("type", "")).partition(".")[0]
                first.setdefault((kind, event.get("object_id")), event)
            for event in first.values():
                self._apply_event(event)
            self._checkpoint({"events_cursor": position})
