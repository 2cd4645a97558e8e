"""An inventory connector for a mutualTLS platform that trusts the platform's CA (`ca_bundle`)
but never presents the client certificate it was given (`client_cert`, `client_key`): the
platform refuses the handshake, so nothing it asks for arrives. Otherwise it pages correctly."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

import httpx


class NoClientCertificate:
    PAGE = 100

    def __init__(self, config: Mapping[str, Any], sink: Any) -> None:
        self.sink = sink
        self._base = str(config["base_url"]).rstrip("/")
        verify = ssl.create_default_context(cafile=str(config["ca_bundle"]))
        self._http = httpx.Client(
            timeout=15.0, verify=verify
        )  # the defect: no cert=(client_cert, client_key)

    def _get(self, page: int) -> dict[str, Any]:
        response = self._http.get(f"{self._base}/products", params={"page": page, "per_page": self.PAGE})
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
