"""The reference connector for the Acme CRM platform.

It syncs contacts, companies and deals into a sink (full, incremental from the change feed, and
resumable), applies signed contact webhooks, and pushes records back with idempotency keys.

Every behaviour lives in its own small method, so a test can subclass the connector and break
exactly one of them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import random
import ssl
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import httpx

USER_AGENT = "acme-sync/1.0.0"
EVENTS_PATH = "/v1/events"
IDEMPOTENCY_NAMESPACE = uuid.UUID("6f0c3a52-3a53-4d0e-9a3c-6b2f1d0e8a11")

Record = dict[str, Any]
Headers = Mapping[str, str] | Iterable[tuple[str, str]]


class AcmeError(Exception):
    """Something went wrong talking to the platform."""


class AuthenticationError(AcmeError):
    """The platform refused our credentials or our token."""


class PlatformError(AcmeError):
    """The platform answered with an error we do not retry, or kept failing."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class _Retryable(Exception):
    """One attempt failed in a way worth retrying."""

    def __init__(self, reason: str, delay: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


class _CorrelatedSink:
    """The sink, with the running sync's correlation id on every log line (a bound logger)."""

    def __init__(self, sink: Any) -> None:
        self._sink, self.sync_id = sink, None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sink, name)

    def log(self, level: str, message: str, **fields: Any) -> None:
        if self.sync_id:
            fields.setdefault("sync_id", self.sync_id)
        self._sink.log(level, message, **fields)


class AcmeSync:
    DEFAULT_STREAMS = ("contacts", "companies", "deals")
    EVENT_STREAMS = {"contact": "contacts", "company": "companies", "deal": "deals"}
    MAX_PAGE_SIZE = 200

    MAX_ATTEMPTS = 5  # for 5xx, transport errors and invalid JSON
    MAX_RATE_LIMIT_WAITS = 10  # for 429
    BACKOFF_BASE = 0.2
    MAX_RETRY_AFTER = 30.0
    TOKEN_LEEWAY = 30.0  # refresh this long before expiry (at most a tenth of the lifetime)

    WEBHOOK_TOLERANCE = 300  # seconds
    WEBHOOK_MEMORY = 10_000  # webhook ids remembered for replay detection

    def __init__(self, config: Mapping[str, Any], sink: Any) -> None:
        required = ("base_url", "token_url", "client_id", "client_secret")
        missing = [key for key in required if not config.get(key)]
        if missing:
            raise ValueError(f"acme-sync config is missing {', '.join(missing)}")
        self.sink = _CorrelatedSink(sink)
        self._last_request = ""  # "GET /v1/contacts -> 403": what a failure log names
        self._base_url = str(config["base_url"]).rstrip("/")
        self._token_url = str(config["token_url"])
        self._client_id = str(config["client_id"])
        self._client_secret = str(config["client_secret"])
        self._scopes = list(config.get("scopes") or [])
        self._webhook_secret = config.get("webhook_secret")
        self._page_size = max(1, min(int(config.get("page_size") or 100), self.MAX_PAGE_SIZE))
        self._streams = self._configured_streams(config.get("streams"))
        # data minimization: per stream, the only fields stored (plus the id); absent = all fields
        self._fields = {stream: set(names) for stream, names in dict(config.get("fields") or {}).items()}
        # connect and read timeouts: a page is answered in milliseconds, and a platform that stalls
        # (RES-05 holds an answer for 30 s) is given up on after 5 s and the request retried
        self._client = httpx.Client(
            timeout=httpx.Timeout(5.0),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )
        self._random = random.Random()
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._seen_webhooks: OrderedDict[str, None] = OrderedDict()

    def _configured_streams(self, streams: Sequence[str] | None) -> list[str]:
        chosen = list(streams or self.DEFAULT_STREAMS)
        unknown = sorted(set(chosen) - set(self.DEFAULT_STREAMS))
        if unknown:
            raise ValueError(f"acme-sync cannot sync stream(s) {', '.join(unknown)}")
        return chosen

    # -- lifecycle -------------------------------------------------------------------------------

    def check(self) -> None:
        """Raise unless the platform gives us a token for our credentials and scopes."""
        self._invalidate_token()
        self._access_token()
        self.sink.log("info", "credentials accepted", scopes=" ".join(self._scopes))

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> AcmeSync:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- auth ------------------------------------------------------------------------------------

    def _access_token(self) -> str:
        if self._token is None or not self._token_is_fresh():
            self._token, lifetime = self._fetch_token()
            self._token_expires_at = self._now() + lifetime - min(self.TOKEN_LEEWAY, lifetime / 10)
        return self._token

    def _token_is_fresh(self) -> bool:
        return self._now() < self._token_expires_at

    def _invalidate_token(self) -> None:
        self._token = None
        self._token_expires_at = 0.0

    def _token_request_data(self) -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "scope": " ".join(self._scopes),
        }

    def _fetch_token(self) -> tuple[str, float]:
        response, payload = self._send(
            "POST", self._token_url, authenticated=False, data=self._token_request_data()
        )
        if response.status_code in (400, 401):
            error = payload.get("error") if isinstance(payload, dict) else None
            raise AuthenticationError(
                f"the token endpoint refused the client credentials "
                f"(HTTP {response.status_code}, {error or 'no error code'}); check client_id, "
                f"client_secret and scopes"
            )
        if response.status_code >= 400:
            raise self._error(response)
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthenticationError("the token endpoint answered without an access_token")
        lifetime = payload.get("expires_in")
        lifetime = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else 60.0
        self.sink.log("info", "token issued", expires_in=lifetime)
        return token, lifetime

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._access_token()}"}

    def _on_unauthorized(self) -> None:
        """A 401 from the API: forget the token so the retry fetches a new one."""
        self.sink.log("warning", "token refused, fetching a new one")
        self._invalidate_token()

    # -- HTTP ------------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self._base_url}{path}"

    def _api(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call: retried on transient failures, one token refresh on 401."""
        response, payload = self._send(method, self._url(path), **kwargs)
        if response.status_code == 401:
            self._on_unauthorized()
            response, payload = self._send(method, self._url(path), **kwargs)
            if response.status_code == 401:
                raise AuthenticationError(
                    f"{method} {path} was refused twice with a fresh token (HTTP 401); "
                    f"the credentials may have been revoked"
                )
        if response.status_code >= 400:
            raise self._error(response)
        return payload

    def _send(
        self,
        method: str,
        url: str,
        *,
        authenticated: bool = True,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> tuple[httpx.Response, Any]:
        """Send a request, retrying 429, 5xx, transport errors and unreadable JSON."""
        failures = rate_limited = 0
        while True:
            try:
                request_headers = dict(headers or {})
                if authenticated:
                    request_headers.update(self._auth_headers())
                request_id = str(uuid.uuid4())
                request_headers.update(self._request_id_header(request_id))
                try:
                    response = self._client.request(method, url, headers=request_headers, **kwargs)
                except httpx.TransportError as exc:
                    if _certificate_refused(exc):
                        raise PlatformError(
                            f"{method} {httpx.URL(url).path}: the platform's TLS certificate failed "
                            "verification; not retried (check base_url, or ca_bundle for a private CA)"
                        ) from None
                    raise self._request_failed(exc, failures + 1) from None
                self._last_request = f"{method} {response.request.url.path} -> {response.status_code}"
                self._log_request(response, request_id)
                return response, self._check_response(response, failures + 1)
            except _Retryable as retry:
                if retry.reason == "rate limited":
                    rate_limited += 1
                    exhausted = rate_limited >= self.MAX_RATE_LIMIT_WAITS
                else:
                    failures += 1
                    exhausted = failures >= self.MAX_ATTEMPTS
                path = httpx.URL(url).path
                if exhausted:
                    raise PlatformError(f"{method} {path} failed: {retry.reason}, giving up") from None
                self.sink.log(
                    "warning",
                    "retrying request",
                    method=method,
                    path=path,
                    reason=retry.reason,
                    delay=round(retry.delay, 3),
                )
                self._sleep(retry.delay)

    def _request_id_header(self, request_id: str) -> dict[str, str]:
        return {"X-Request-Id": request_id}

    def _log_request(self, response: httpx.Response, request_id: str) -> None:
        """One line per request, with the X-Request-Id the platform's logs know it by."""
        self.sink.log(
            "debug",
            "request",
            method=response.request.method,
            path=response.request.url.path,
            status=response.status_code,
            request_id=request_id,
        )

    def _check_response(self, response: httpx.Response, attempt: int) -> Any:
        """The parsed body of a usable response; raise _Retryable if it is worth another try."""
        if response.status_code == 429:
            raise _Retryable("rate limited", self._retry_after(response, attempt))
        if self._is_retryable_status(response.status_code):
            raise _Retryable(f"HTTP {response.status_code}", self._backoff_delay(attempt))
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            if response.is_success:
                raise _Retryable("unreadable JSON body", self._backoff_delay(attempt)) from None
            return None

    def _request_failed(self, exc: httpx.TransportError, attempt: int) -> _Retryable:
        return _Retryable(type(exc).__name__, self._backoff_delay(attempt))

    def _is_retryable_status(self, status: int) -> bool:
        return status >= 500

    def _retry_after(self, response: httpx.Response, attempt: int) -> float:
        try:
            seconds = float(response.headers["Retry-After"])
        except (KeyError, ValueError):
            return self._backoff_delay(attempt)
        return min(max(seconds, 0.0), self.MAX_RETRY_AFTER)

    def _backoff_delay(self, attempt: int) -> float:
        delay = self.BACKOFF_BASE * 2 ** (attempt - 1)
        return delay + self._random.uniform(0, delay)

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def _now(self) -> float:
        return time.monotonic()

    def _error(self, response: httpx.Response) -> PlatformError:
        title = ""
        try:
            problem = response.json()
            if isinstance(problem, dict):
                title = str(problem.get("title") or problem.get("error") or "")[:200]
        except ValueError:
            pass
        path = response.request.url.path
        return PlatformError(
            f"{response.request.method} {path} failed with HTTP {response.status_code}"
            + (f": {title}" if title else ""),
            status=response.status_code,
        )

    # -- paging ----------------------------------------------------------------------------------

    def _list_params(self, cursor: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": self._page_size}
        if cursor:
            params["cursor"] = cursor
        return params

    def _records(self, page: Any) -> list[Record]:
        data = page.get("data") if isinstance(page, dict) else None
        if not isinstance(data, list):
            raise PlatformError("the platform answered a list request without a data array")
        return data

    def _next_cursor(self, page: dict[str, Any]) -> str | None:
        return page.get("next_cursor") or None

    def _pages(self, path: str, cursor: str | None = None) -> Iterator[tuple[list[Record], str | None]]:
        """(records, next_cursor) for each page of a list, from `cursor` to the end."""
        while True:
            page = self._api("GET", path, params=self._list_params(cursor))
            records, next_cursor = self._records(page), self._next_cursor(page)
            yield records, next_cursor
            if next_cursor is None or next_cursor == cursor:
                return
            cursor = next_cursor

    def _feed(self, cursor: str | None) -> Iterator[tuple[list[Record], str | None]]:
        """(events, position) for each page of the change feed; position is where to resume."""
        for events, next_cursor in self._pages(EVENTS_PATH, cursor):
            cursor = next_cursor or cursor
            yield events, cursor
            if not events:
                return

    # -- sync ------------------------------------------------------------------------------------

    def sync(self, state: Mapping[str, Any] | None = None) -> None:
        """One sync under a new correlation id; a failure is logged with its cause, then raised."""
        self.sink.sync_id = uuid.uuid4().hex
        try:
            self._sync(state)
        except Exception as exc:
            self._log_failure(exc)
            raise
        finally:
            self.sink.sync_id = None

    def _log_failure(self, exc: Exception) -> None:
        status = getattr(exc, "status", None)
        self.sink.log(
            "error",
            "sync failed",
            error=f"{type(exc).__name__}: {exc}",
            status=status,
            request=self._last_request,
        )

    def _sync(self, state: Mapping[str, Any] | None = None) -> None:
        """Pull changes into the sink: full (state None), resumed, or incremental from the feed."""
        if not state:
            self._full_sync()
        elif state.get("stream") in self._streams:
            self._resume_full_sync(state)
        elif "events_cursor" in state and "stream" not in state:
            self._incremental_sync(state["events_cursor"])
        else:
            self.sink.log("warning", "unusable state, running a full sync")
            self._full_sync()

    def _full_sync(self) -> None:
        events_cursor = self._feed_position()
        self.sink.log("info", "full sync started", streams=",".join(self._streams))
        self._sync_streams(self._streams, None, events_cursor)

    def _resume_full_sync(self, state: Mapping[str, Any]) -> None:
        remaining = self._streams[self._streams.index(state["stream"]) :]
        self.sink.log("info", "resuming full sync", stream=state["stream"])
        self._sync_streams(remaining, state.get("cursor"), state.get("events_cursor"))

    def _feed_position(self) -> str | None:
        """Where the change feed ends now; changes made from here on are picked up incrementally."""
        position = None
        for _events, page_position in self._feed(None):
            position = page_position
        return position

    def _sync_streams(self, streams: Sequence[str], cursor: str | None, events_cursor: str | None) -> None:
        for index, stream in enumerate(streams):
            following = streams[index + 1] if index + 1 < len(streams) else None
            self._sync_stream(stream, cursor, events_cursor, following)
            cursor = None
        self._checkpoint({"events_cursor": events_cursor})
        self.sink.log("info", "full sync finished")

    def _sync_stream(
        self, stream: str, cursor: str | None, events_cursor: str | None, following: str | None
    ) -> None:
        for records, next_cursor in self._pages(f"/v1/{stream}", cursor):
            for record in records:
                self._store(stream, record)
            self.sink.log("info", "page fetched", stream=stream, count=len(records))
            if next_cursor:
                self._checkpoint({"stream": stream, "cursor": next_cursor, "events_cursor": events_cursor})
            elif following:
                self._checkpoint({"stream": following, "cursor": None, "events_cursor": events_cursor})

    def _incremental_sync(self, events_cursor: str | None) -> None:
        for events, position in self._feed(events_cursor):
            for event in events:
                self._apply_event(event)
            self.sink.log("info", "page fetched", stream="events", count=len(events))
            self._checkpoint({"events_cursor": position})

    def _apply_event(self, event: Mapping[str, Any]) -> None:
        kind, _, action = str(event.get("type", "")).partition(".")
        stream = self.EVENT_STREAMS.get(kind)
        if stream not in self._streams:
            return
        if action == "deleted":
            self.sink.delete(stream, event["object_id"])
        elif action in ("created", "updated") and isinstance(event.get("object"), dict):
            self._store(stream, event["object"])

    def _store(self, stream: str, record: Record) -> None:
        self.sink.upsert(stream, self._minimize(stream, record))

    def _minimize(self, stream: str, record: Record) -> Record:
        """Only the fields configured for the stream (`fields`), and the id: nothing else is kept."""
        keep = self._fields.get(stream)
        if not keep:
            return record
        return {key: value for key, value in record.items() if key == "id" or key in keep}

    def _checkpoint(self, state: dict[str, Any]) -> None:
        self.sink.checkpoint(state)

    # -- webhooks --------------------------------------------------------------------------------

    def handle_webhook(self, headers: Headers, body: bytes | str) -> int:
        """Verify and apply one Standard Webhooks delivery; return the HTTP status to answer."""
        body = body.encode() if isinstance(body, str) else bytes(body)
        items = headers.items() if isinstance(headers, Mapping) else headers
        lowered = {str(name).lower(): str(value) for name, value in items}
        refusal = self._verify_webhook(lowered, body)
        if refusal is not None:
            return refusal
        msg_id = lowered["webhook-id"]
        if self._is_replay(msg_id):
            self.sink.log("info", "webhook already applied", webhook_id=msg_id)
            return 200
        try:
            event = json.loads(body)
        except (ValueError, RecursionError):  # a body nested deeper than the parser goes
            self.sink.log("warning", "webhook body is not JSON", webhook_id=msg_id)
            return 400
        if not self._apply_webhook(event):
            self.sink.log("warning", "webhook payload not understood", webhook_id=msg_id)
            return 400
        self._remember_webhook(msg_id)
        return 204

    def _verify_webhook(self, headers: Mapping[str, str], body: bytes) -> int | None:
        """None if the delivery is authentic and fresh, else the status to refuse it with."""
        msg_id = headers.get("webhook-id")
        timestamp = headers.get("webhook-timestamp")
        signatures = headers.get("webhook-signature")
        if not (msg_id and timestamp and signatures) or not timestamp.isdigit():
            self.sink.log("warning", "webhook refused: missing or malformed headers")
            return 400
        if not self._timestamp_is_fresh(int(timestamp)):
            self.sink.log("warning", "webhook refused: stale timestamp", webhook_id=msg_id)
            return 401
        if not self._signature_is_valid(msg_id, timestamp, body, signatures):
            self.sink.log("warning", "webhook refused: bad signature", webhook_id=msg_id)
            return 401
        return None

    def _timestamp_is_fresh(self, timestamp: int) -> bool:
        return abs(time.time() - timestamp) <= self.WEBHOOK_TOLERANCE

    def _webhook_key(self) -> bytes | None:
        secret = self._webhook_secret
        if not secret:
            return None
        try:
            return base64.b64decode(str(secret).removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            return None

    def _signature_is_valid(self, msg_id: str, timestamp: str, body: bytes, signatures: str) -> bool:
        key = self._webhook_key()
        if key is None:
            return False
        signed = f"{msg_id}.{timestamp}.".encode() + body
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        for candidate in signatures.split():
            version, _, signature = candidate.partition(",")
            if version == "v1" and hmac.compare_digest(signature, expected):
                return True
        return False

    def _is_replay(self, msg_id: str) -> bool:
        return msg_id in self._seen_webhooks

    def _remember_webhook(self, msg_id: str) -> None:
        self._seen_webhooks[msg_id] = None
        while len(self._seen_webhooks) > self.WEBHOOK_MEMORY:
            self._seen_webhooks.popitem(last=False)

    def _apply_webhook(self, event: Any) -> bool:
        """Apply a contact event; False if the payload is not one we understand."""
        if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
            return False
        data, kind = event["data"], event.get("type")
        if not isinstance(data.get("id"), str):
            return False
        if "contacts" not in self._streams:
            return True
        if kind in ("contact.created", "contact.updated"):
            self._store("contacts", data)
        elif kind == "contact.deleted":
            self.sink.delete("contacts", data["id"])
        else:
            return False
        return True

    # -- push ------------------------------------------------------------------------------------

    def push(self, stream: str, records: Iterable[Mapping[str, Any]]) -> list[Any]:
        """Create each record on the platform; safe to retry thanks to the Idempotency-Key."""
        created = []
        for record in records:
            headers = {"Idempotency-Key": self._idempotency_key(stream, record)}
            created.append(self._api("POST", f"/v1/{stream}", json=dict(record), headers=headers))
        self.sink.log("info", "records pushed", stream=stream, count=len(created))
        return created

    def _idempotency_key(self, stream: str, record: Mapping[str, Any]) -> str:
        canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
        return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{stream}:{canonical}"))


def _certificate_refused(exc: BaseException) -> bool:
    """Whether a transport error is a TLS handshake that failed on the platform's certificate: no
    retry will change it, so it fails the sync at once instead of after every backoff."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
