"""SEC-03 defect: certificate verification turned off (`verify=False`), the usual "fix" for a
self-signed staging certificate that then ships. Every other behaviour is the reference's."""

from __future__ import annotations

from typing import Any

import httpx
from acme_sync import AcmeSync


class AcceptsAnyCertificate(AcmeSync):
    def __init__(self, config: dict[str, Any], sink: Any) -> None:
        super().__init__(config, sink)
        headers = self._client.headers
        self._client.close()
        self._client = httpx.Client(
            timeout=httpx.Timeout(5.0), follow_redirects=False, headers=headers, verify=False
        )
