"""The ticketing-like connector that sends its API key in a JSON request body
(`{"api_key": ...}`, as some RPC-style APIs take it) instead of the `api_key` query parameter
the contract declares: request bodies are logged by gateways and tracing tools that never see
a credential there, and the platform refuses it."""

from __future__ import annotations

from typing import Any

from ticketing_sync.connector import TicketingError, TicketingSync


class ApiKeyInJsonBody(TicketingSync):
    def _get(self, path: str, params: dict[str, Any]) -> Any:
        response = self._client.request(
            "GET", self._base_url + path, params=params, json={"api_key": self._key}
        )  # the defect: the key in a JSON body, not in the declared query parameter
        if response.status_code >= 400:
            raise TicketingError(f"GET {path} failed with HTTP {response.status_code}")
        return response.json()
