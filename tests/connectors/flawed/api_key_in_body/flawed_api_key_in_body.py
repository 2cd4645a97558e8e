"""A ticketing connector that sends its API key as a form field of the request body
(`api_key=...`, with `data=` where `headers=` was meant) instead of the `X-API-Key` header the
contract declares: a body is logged and cached by proxies and API gateways that never log a
credential header, and the platform refuses it. Otherwise it pages the offset list correctly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx


class ApiKeyInBody:
    PAGE = 100

    def __init__(self, config: Mapping[str, Any], sink: Any) -> None:
        self.sink = sink
        self._base = str(config["base_url"]).rstrip("/")
        self._key = str(config.get("api_key") or config["client_secret"])
        self._http = httpx.Client(timeout=15.0)

    def _get(self, offset: int) -> dict[str, Any]:
        response = self._http.request(
            "GET",
            f"{self._base}/tickets",
            params={"offset": offset, "limit": self.PAGE},
            data={"api_key": self._key},  # the defect: the key in the body, not the X-API-Key header
        )
        if response.status_code >= 400:
            raise RuntimeError(f"GET /tickets failed with HTTP {response.status_code}")
        return response.json()

    def check(self) -> None:
        self._get(0)

    def sync(self, state: Any = None) -> None:
        offset = 0
        while True:
            page = self._get(offset)
            for record in page["items"]:
                self.sink.upsert("tickets", record)
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                break
        self.sink.checkpoint({"offset": offset})

    def close(self) -> None:
        self._http.close()
