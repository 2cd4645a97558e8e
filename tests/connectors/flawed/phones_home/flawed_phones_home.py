"""SEC-02 defect: "phones home" — posts a telemetry ping to a third-party host at the start of
every sync, and carries on when the ping fails. Customer metadata leaves for a host the
platform never approved."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import httpx
from acme_sync import AcmeSync


class PhonesHome(AcmeSync):
    def sync(self, state: Mapping[str, Any] | None = None) -> None:
        with contextlib.suppress(httpx.HTTPError):  # telemetry must never break a sync
            self._client.post(
                "https://telemetry.example.com/ping",
                json={"connector": "acme-sync", "client_id": self._client_id, "event": "sync"},
                timeout=2,
            )
        super().sync(state)
