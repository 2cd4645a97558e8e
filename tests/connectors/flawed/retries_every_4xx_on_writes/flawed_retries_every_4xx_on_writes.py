"""RES-06 defect: reads stop on a client error, but a write refused with a 4xx (400, 403, 409,
422, ...) is retried with backoff until its attempts run out, as if the refusal were transient."""

from __future__ import annotations

from typing import Any

import httpx
from acme_sync import AcmeSync
from acme_sync.connector import _Retryable


class RetriesEvery4xxOnWrites(AcmeSync):
    def _check_response(self, response: httpx.Response, attempt: int) -> Any:
        status = response.status_code
        if response.request.method != "GET" and 400 <= status < 500 and status not in (401, 429):
            raise _Retryable(f"HTTP {status}", self._backoff_delay(attempt))
        return super()._check_response(response, attempt)
