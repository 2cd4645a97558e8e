"""The reference connector for the HubSpot-like CRM: contacts and companies, full and resumable.

Auth is OAuth2 authorization code: the harness hands over a `refresh_token` (the user already
authorized the app); the connector exchanges it at `token_url` and, because refresh tokens
rotate, always keeps the newest one the token endpoint answered and sends that one next time.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

USER_AGENT = "hubspot-sync/1.0.0"
PATHS = {"contacts": "/crm/v3/objects/contacts", "companies": "/crm/v3/objects/companies"}


class HubSpotError(Exception):
    """The platform refused us or kept failing."""


class HubSpotSync:
    MAX_ATTEMPTS = 5
    MAX_RATE_LIMIT_WAITS = 10
    BACKOFF_BASE = 0.2
    MAX_RETRY_AFTER = 30.0
    MAX_PAGE_SIZE = 100

    def __init__(self, config: Mapping[str, Any], sink: Any) -> None:
        missing = [
            k
            for k in ("base_url", "token_url", "client_id", "client_secret", "refresh_token")
            if not config.get(k)
        ]
        if missing:
            raise ValueError(f"hubspot-sync config is missing {', '.join(missing)}")
        self.sink = sink
        self._base = str(config["base_url"]).rstrip("/")
        self._token_url = str(config["token_url"])
        self._client = (str(config["client_id"]), str(config["client_secret"]))
        self._refresh_token = str(config["refresh_token"])
        self._scopes = list(config.get("scopes") or [])
        self._page_size = max(1, min(int(config.get("page_size") or 100), self.MAX_PAGE_SIZE))
        self._http = httpx.Client(
            timeout=httpx.Timeout(5.0),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            verify=config.get("ca_bundle") or True,
        )
        self._lock = threading.Lock()  # one refresh at a time: a rotated token is spent
        self._token: str | None = None
        self._expires_at = 0.0
        self._random = random.Random()
        self._sync_id: str | None = None  # the running sync's correlation id, on every log line
        self._last_request = ""  # "POST /oauth/token -> 400": what a failure's log line names

    def _log(self, level: str, message: str, **fields: Any) -> None:
        self.sink.log(level, message, sync_id=self._sync_id, **fields)

    # -- auth ------------------------------------------------------------------------------------

    def _access_token(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                self._refresh()
            assert self._token is not None
            return self._token

    def _refresh(self) -> None:
        data = {
            "grant_type": "refresh_token",
            "refresh_token": self._refresh_token,
            "client_id": self._client[0],
            "client_secret": self._client[1],
        }
        if self._scopes:
            data["scope"] = " ".join(self._scopes)
        response = self._send("POST", self._token_url, data=data)
        if response.status_code in (400, 401):
            error = _json(response).get("error", "no error code")
            raise HubSpotError(
                f"the token endpoint refused the refresh token (HTTP {response.status_code}, {error})"
            )
        if response.status_code >= 400:
            raise HubSpotError(f"the token endpoint failed with HTTP {response.status_code}")
        body = _json(response)
        if not isinstance(body.get("access_token"), str):
            raise HubSpotError("the token endpoint answered without an access_token")
        self._token = body["access_token"]
        if isinstance(body.get("refresh_token"), str):
            self._refresh_token = body["refresh_token"]  # rotation: the one we sent is spent
        lifetime = float(body.get("expires_in") or 60)
        self._expires_at = time.monotonic() + lifetime - min(30.0, lifetime / 10)
        self._log("info", "token refreshed", expires_in=lifetime)

    def _invalidate(self, stale: str) -> None:
        with self._lock:
            if self._token == stale:
                self._token = None

    # -- HTTP ------------------------------------------------------------------------------------

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        failures = limited = 0
        headers = kwargs.pop("headers", None) or {}
        while True:
            request_id = str(uuid.uuid4())  # X-Request-Id: the platform's logs know the request by it
            try:
                response = self._http.request(
                    method, url, headers={**headers, "X-Request-Id": request_id}, **kwargs
                )
            except httpx.TransportError as exc:
                failures += 1
                if failures >= self.MAX_ATTEMPTS:
                    raise HubSpotError(
                        f"{method} {httpx.URL(url).path} failed: {type(exc).__name__}"
                    ) from None
                self._sleep(self._backoff(failures))
                continue
            self._last_request = f"{method} {httpx.URL(url).path} -> {response.status_code}"
            self._log("debug", "request", request=self._last_request, request_id=request_id)
            if response.status_code == 429:
                limited += 1
                if limited >= self.MAX_RATE_LIMIT_WAITS:
                    raise HubSpotError(f"{method} {httpx.URL(url).path} stayed rate limited")
                self._sleep(self._retry_after(response, limited))
                continue
            if response.status_code >= 500:
                failures += 1
                if failures >= self.MAX_ATTEMPTS:
                    raise HubSpotError(
                        f"{method} {httpx.URL(url).path} failed with HTTP {response.status_code}"
                    )
                self._sleep(self._backoff(failures))
                continue
            if response.is_success and response.content and not _parses(response):
                failures += 1  # a body cut off on the way: as transient as a dropped connection
                if failures >= self.MAX_ATTEMPTS:
                    raise HubSpotError(f"{method} {httpx.URL(url).path} answered a body that is not JSON")
                self._sleep(self._backoff(failures))
                continue
            return response

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        token = self._access_token()
        response = self._send(
            "GET", self._base + path, params=params, headers={"Authorization": f"Bearer {token}"}
        )
        if response.status_code == 401:  # expired or revoked: one new token, one retry
            self._invalidate(token)
            token = self._access_token()
            response = self._send(
                "GET", self._base + path, params=params, headers={"Authorization": f"Bearer {token}"}
            )
        if response.status_code >= 400:
            raise HubSpotError(f"GET {path} failed with HTTP {response.status_code}")
        return _json(response)

    def _retry_after(self, response: httpx.Response, attempt: int) -> float:
        try:
            return min(max(float(response.headers["Retry-After"]), 0.0), self.MAX_RETRY_AFTER)
        except (KeyError, ValueError):
            return self._backoff(attempt)

    def _backoff(self, attempt: int) -> float:
        delay = self.BACKOFF_BASE * 2 ** (attempt - 1)
        return delay + self._random.uniform(0, delay)

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    # -- lifecycle and sync ----------------------------------------------------------------------

    def check(self) -> None:
        self._get(PATHS["contacts"], {"limit": 1})

    def _pages(self, stream: str, after: str | None) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
        while True:
            params: dict[str, Any] = {"limit": self._page_size}
            if after:
                params["after"] = after
            page = self._get(PATHS[stream], params)
            results = page.get("results")
            if not isinstance(results, list):
                raise HubSpotError(f"GET {PATHS[stream]} answered without a results array")
            nxt = ((page.get("paging") or {}).get("next") or {}).get("after")
            yield results, nxt or None
            if not nxt or nxt == after:
                return
            after = nxt

    def sync(self, state: Mapping[str, Any] | None = None) -> None:
        """One sync under a new correlation id; a failure is logged with its cause, then raised."""
        self._sync_id = uuid.uuid4().hex
        try:
            self._sync(state)
        except Exception as exc:
            self._log(
                "error", "sync failed", error=f"{type(exc).__name__}: {exc}", request=self._last_request
            )
            raise
        finally:
            self._sync_id = None

    def _sync(self, state: Mapping[str, Any] | None) -> None:
        streams = list(PATHS)
        start, after = 0, None
        if state and state.get("stream") in PATHS:
            start, after = streams.index(state["stream"]), state.get("after")
        for index, stream in enumerate(streams[start:], start):
            for records, nxt in self._pages(stream, after):
                for record in records:
                    self.sink.upsert(stream, record)
                if nxt:
                    self.sink.checkpoint({"stream": stream, "after": nxt})
                elif index + 1 < len(streams):
                    self.sink.checkpoint({"stream": streams[index + 1], "after": None})
            after = None
        self.sink.checkpoint({"done": True})

    def close(self) -> None:
        self._http.close()


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _parses(response: httpx.Response) -> bool:
    try:
        response.json()
    except ValueError:
        return False
    return True
