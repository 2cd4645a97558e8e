"""RES-01 defect: after a 429 it waits a fixed 50 ms instead of the Retry-After the platform sent."""

from __future__ import annotations

import httpx
from acme_sync import AcmeSync


class IgnoresRetryAfter(AcmeSync):
    def _retry_after(self, response: httpx.Response, attempt: int) -> float:
        return 0.05
