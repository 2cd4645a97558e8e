"""An inventory connector that puts its username and password in the URL's query string
(`?username=...&password=...`, as some legacy APIs took them) instead of the
`Authorization: Basic` header the contract's HTTP basic scheme declares: the password lands in
every proxy and access log on the way. Otherwise it pages the page-numbered list correctly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx


class BasicPasswordInQuery:
    PAGE = 100

    def __init__(self, config: Mapping[str, Any], sink: Any) -> None:
        self.sink = sink
        self._base = str(config["base_url"]).rstrip("/")
        self._user, self._password = str(config["username"]), str(config["password"])
        self._http = httpx.Client(timeout=15.0)

    def _get(self, page: int) -> dict[str, Any]:
        params = {"page": page, "per_page": self.PAGE, "username": self._user, "password": self._password}
        response = self._http.get(f"{self._base}/products", params=params)  # the defect: no basic header
        if response.status_code >= 400:
            raise RuntimeError(f"GET /products failed with HTTP {response.status_code}")
        return response.json()

    def check(self) -> None:
        self._get(1)

    def sync(self, state: Any = None) -> None:
        page = 1
        while True:
            body = self._get(page)
            for record in body["results"]:
                self.sink.upsert("products", record)
            if not body["has_more"] or not body["results"]:
                break
            page += 1
        self.sink.checkpoint({"page": page})

    def close(self) -> None:
        self._http.close()
