"""Canary defect: stores only its declared fields, but logs every record an incremental sync
brings in whole, so the fields it says it does not use (phone, custom fields, ...) reach its
logs. A full sync alone shows nothing: only a change between two syncs does."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from acme_sync import AcmeSync


class LogsChangedRecords(AcmeSync):
    def _apply_event(self, event: Mapping[str, Any]) -> None:
        if isinstance(event.get("object"), dict):
            self.sink.log("debug", "change received", record=json.dumps(event["object"]))
        super()._apply_event(event)
