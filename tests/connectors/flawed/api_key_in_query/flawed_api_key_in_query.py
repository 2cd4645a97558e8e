"""A ticketing connector that sends its API key in the declared header and, as well, in the
query string (`?api_key=`), where the contract does not put it: the key lands in every proxy
and access log on the way. Otherwise it pages the offset list correctly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx


class ApiKeyInQuery:
    PAGE = 100

    def __init__(self, config: Mapping[str, Any], sink: Any) -> None:
        self.sink = sink
        self._base = str(config["base_url"]).rstrip("/")
        self._key = str(config.get("api_key") or config["client_secret"])
        self._http = httpx.Client(timeout=15.0, headers={"X-API-Key": self._key})

    def _params(self, offset: int) -> dict[str, Any]:
        return {"offset": offset, "limit": self.PAGE, "api_key": self._key}  # the defect

    def _get(self, offset: int) -> dict[str, Any]:
        response = self._http.get(f"{self._base}/tickets", params=self._params(offset))
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
