"""OBS-01 defect: logs each request as a line of plain text on stderr (`print`), not as a
structured record. A person can read it; a log aggregator cannot filter it by level or search
it by field."""

from __future__ import annotations

import sys

import httpx
from acme_sync import AcmeSync


class PlainTextLogs(AcmeSync):
    def _log_request(self, response: httpx.Response, request_id: str) -> None:
        request = response.request
        print(
            f"{request.method} {request.url.path} -> {response.status_code} ({request_id})", file=sys.stderr
        )
