"""SEC-01 defect: authenticates at the token endpoint with HTTP basic (client_secret_basic, as
RFC 6749 prefers) and logs the headers of that request at debug level. `Basic` is only base64,
so the client id and secret are in every log line, readable by anyone with the logs."""

from __future__ import annotations

import base64
from typing import Any

from acme_sync import AcmeSync


class LogsBasicAuthHeader(AcmeSync):
    def _fetch_token(self) -> tuple[str, float]:
        pair = f"{self._client_id}:{self._client_secret}".encode()
        headers = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        self.sink.log("debug", "token request", headers=headers)
        original = self._send

        def send(method: str, url: str, **kwargs: Any) -> Any:
            data = {k: v for k, v in kwargs.pop("data").items() if k not in ("client_id", "client_secret")}
            return original(method, url, headers=headers, data=data, **kwargs)

        self._send = send  # type: ignore[method-assign]
        try:
            return super()._fetch_token()
        finally:
            del self._send
