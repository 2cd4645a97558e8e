"""SEC-01 defect: authenticates at the token endpoint with HTTP basic (client_secret_basic, as
RFC 6749 prefers) and logs the headers of that request at debug level. `Basic` is only base64,
so the client id and secret are in every log line, readable by anyone with the logs."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from acme_sync import AcmeSync


class LogsBasicAuthHeader(AcmeSync):
    def _token_request_data(self) -> dict[str, str]:
        data = super()._token_request_data()
        del data["client_id"], data["client_secret"]  # they go in the Authorization header instead
        return data

    def _send(self, method: str, url: str, *, headers: Mapping[str, str] | None = None, **kwargs: Any) -> Any:
        if url == self._token_url:
            pair = base64.b64encode(f"{self._client_id}:{self._client_secret}".encode()).decode()
            headers = {**(headers or {}), "Authorization": f"Basic {pair}"}
            self.sink.log("debug", "token request", headers=headers)
        return super()._send(method, url, headers=headers, **kwargs)
