"""INT-02 defect: the incremental sync skips `*.deleted` events, so records deleted on the platform
stay in the replica forever."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from acme_sync import AcmeSync


class IgnoresDeletions(AcmeSync):
    def _apply_event(self, event: Mapping[str, Any]) -> None:
        if str(event.get("type", "")).endswith(".deleted"):
            return
        super()._apply_event(event)
