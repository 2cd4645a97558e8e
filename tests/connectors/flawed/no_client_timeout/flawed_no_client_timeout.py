"""RES-05 defect: its HTTP client has no timeout (`httpx.Client(timeout=None)`), so a platform
that stops answering mid-request holds the sync for as long as it keeps the connection open."""

from __future__ import annotations

from typing import Any

import httpx
from acme_sync import AcmeSync
from acme_sync.connector import USER_AGENT


class NoClientTimeout(AcmeSync):
    def __init__(self, config: Any, sink: Any) -> None:
        super().__init__(config, sink)
        self._client.close()
        self._client = httpx.Client(
            timeout=None,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )
