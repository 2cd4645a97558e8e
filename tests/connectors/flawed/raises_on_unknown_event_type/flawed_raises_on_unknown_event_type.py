"""CHG-01 defect: reads the change feed through a closed table of today's event types and raises
on any other: the platform's next version announces a new kind of change, and the incremental
sync fails."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from acme_sync import AcmeSync

ACTIONS = ("created", "updated", "deleted")


class RaisesOnUnknownEventType(AcmeSync):
    def _apply_event(self, event: Mapping[str, Any]) -> None:
        kind = str(event.get("type", ""))
        if kind.partition(".")[2] not in ACTIONS:
            raise ValueError(f"unknown event type {kind!r}")
        super()._apply_event(event)
