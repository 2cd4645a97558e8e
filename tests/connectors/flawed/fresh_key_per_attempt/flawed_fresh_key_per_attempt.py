"""INT-06 defect: an HTTP hook stamps a fresh Idempotency-Key on every request it sends, so each
push has a key (CON-03 passes) but a retry is a new request with a new key: a create that had
committed before the failure is created again."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import httpx
from acme_sync import AcmeSync


def _fresh_key(request: httpx.Request) -> None:
    if request.method == "POST" and "Idempotency-Key" in request.headers:
        request.headers["Idempotency-Key"] = str(uuid.uuid4())


class FreshKeyPerAttempt(AcmeSync):
    def __init__(self, config: Mapping[str, Any], sink: Any) -> None:
        super().__init__(config, sink)
        self._client.event_hooks["request"].append(_fresh_key)
