"""SEC-01 defect: on a 5xx only, the error it retries with quotes the request it failed, the
Authorization header included, and that text goes into the "retrying request" log line. A
clean run never shows it; the first platform outage puts a live token in the customer's logs."""

from __future__ import annotations

from typing import Any

import httpx
from acme_sync import AcmeSync
from acme_sync.connector import _Retryable


class TokenInServerError(AcmeSync):
    def _check_response(self, response: httpx.Response, attempt: int) -> Any:
        if response.status_code >= 500:
            request = response.request
            raise _Retryable(
                f"HTTP {response.status_code} for {request.method} {request.url} "
                f"(authorization: {request.headers.get('authorization')})",
                self._backoff_delay(attempt),
            )
        return super()._check_response(response, attempt)
