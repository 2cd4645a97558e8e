"""The reference connector for a Stripe-shaped platform (tests/contracts/stripe_like.openapi.yaml).

It speaks Stripe's conventions: the secret key as `Authorization: Bearer`, form-encoded writes
with bracketed keys (`metadata[plan]=pro`), `starting_after` + `limit` paging until `has_more`
is false, the events list (`GET /v1/events`, newest first) as its change feed, `Idempotency-Key` on every
POST, errors as `{error: {type, message, code, param}}`, and webhooks signed
`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`.

Every behaviour lives in its own small method, so a test can subclass the connector and break
exactly one of them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import httpx

USER_AGENT = "stripe-sync/1.0.0"
EVENTS_PATH = "/v1/events"
IDEMPOTENCY_NAMESPACE = uuid.UUID("0b6f6c1e-8a4e-4d0b-9f61-2a7d3c5e9b10")

Record = dict[str, Any]
Headers = Mapping[str, str] | Iterable[tuple[str, str]]


class StripeError(Exception):
    """Something went wrong talking to the platform."""


class AuthenticationError(StripeError):
    """The platform refused our secret key."""


class PlatformError(StripeError):
    """The platform answered with an error we do not retry, or kept failing."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class _Retryable(Exception):
    def __init__(self, reason: str, delay: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


def form_pairs(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """A value as Stripe's form encoding: `metadata[plan]=pro`, `items[0][price]=p`."""
    if isinstance(value, Mapping):
        out: list[tuple[str, str]] = []
        for key, inner in value.items():
            out += form_pairs(inner, f"{prefix}[{key}]" if prefix else str(key))
        return out
    if isinstance(value, list | tuple):
        out = []
        for index, inner in enumerate(value):
            out += form_pairs(inner, f"{prefix}[{index}]")
        return out
    if value is None:
        return [(prefix, "")]
    if isinstance(value, bool):
        return [(prefix, "true" if value else "false")]
    return [(prefix, str(value))]


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


class StripeSync:
    DEFAULT_STREAMS = ("customers", "products", "invoices")
    EVENT_STREAMS = {"customer": "customers", "product": "products", "invoice": "invoices"}
    MAX_PAGE_SIZE = 100

    MAX_ATTEMPTS = 5
    MAX_RATE_LIMIT_WAITS = 10
    BACKOFF_BASE = 0.2
    MAX_RETRY_AFTER = 30.0

    WEBHOOK_TOLERANCE = 300  # seconds, Stripe's default
    WEBHOOK_MEMORY = 10_000

    def __init__(self, config: Mapping[str, Any], sink: Any) -> None:
        missing = [key for key in ("base_url", "client_secret") if not config.get(key)]
        if missing:
            raise ValueError(f"stripe-sync config is missing {', '.join(missing)}")
        self.sink = _CorrelatedSink(sink)
        self._base_url = str(config["base_url"]).rstrip("/")
        self._secret_key = str(config["client_secret"])
        self._webhook_secret = config.get("webhook_secret")
        self._page_size = max(1, min(int(config.get("page_size") or 100), self.MAX_PAGE_SIZE))
        self._streams = self._configured_streams(config.get("streams"))
        self._fields = {stream: set(names) for stream, names in dict(config.get("fields") or {}).items()}
        self._client = httpx.Client(
            timeout=httpx.Timeout(5.0),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )
        self._random = random.Random()
        self._seen_webhooks: OrderedDict[str, None] = OrderedDict()

    def _configured_streams(self, streams: Sequence[str] | None) -> list[str]:
        chosen = list(streams or self.DEFAULT_STREAMS)
        unknown = sorted(set(chosen) - set(self.DEFAULT_STREAMS))
        if unknown:
            raise ValueError(f"stripe-sync cannot sync stream(s) {', '.join(unknown)}")
        return chosen

    # -- lifecycle -------------------------------------------------------------------------------

    def check(self) -> None:
        """Raise unless the platform accepts the secret key."""
        self._api("GET", f"/v1/{self._streams[0]}", params={"limit": 1})
        self.sink.log("info", "secret key accepted")

    def close(self) -> None:
        self._client.close()

    # -- HTTP ------------------------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._secret_key}"}

    def _api(self, method: str, path: str, **kwargs: Any) -> Any:
        response, payload = self._send(method, f"{self._base_url}{path}", **kwargs)
        if response.status_code == 401:
            raise AuthenticationError(f"{method} {path} was refused (HTTP 401): check the secret key")
        if response.status_code >= 400:
            raise self._error(response, payload)
        return payload

    def _send(
        self, method: str, url: str, *, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> tuple[httpx.Response, Any]:
        """Send a request, retrying 429, 5xx, transport errors and unreadable JSON."""
        failures = rate_limited = 0
        while True:
            try:
                request_id = str(uuid.uuid4())  # X-Request-Id: the platform's logs know the request by it
                request_headers = {**dict(headers or {}), **self._auth_headers(), "X-Request-Id": request_id}
                try:
                    response = self._client.request(method, url, headers=request_headers, **kwargs)
                except httpx.TransportError as exc:
                    raise _Retryable(type(exc).__name__, self._backoff_delay(failures + 1)) from None
                self.sink.log(
                    "debug",
                    "request",
                    method=method,
                    path=response.request.url.path,
                    status=response.status_code,
                    request_id=request_id,
                )
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
                time.sleep(retry.delay)

    def _check_response(self, response: httpx.Response, attempt: int) -> Any:
        if response.status_code == 429:
            raise _Retryable("rate limited", self._retry_after(response, attempt))
        if response.status_code >= 500:
            raise _Retryable(f"HTTP {response.status_code}", self._backoff_delay(attempt))
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            if response.is_success:
                raise _Retryable("unreadable JSON body", self._backoff_delay(attempt)) from None
            return None

    def _retry_after(self, response: httpx.Response, attempt: int) -> float:
        try:
            seconds = float(response.headers["Retry-After"])
        except (KeyError, ValueError):
            return self._backoff_delay(attempt)
        return min(max(seconds, 0.0), self.MAX_RETRY_AFTER)

    def _backoff_delay(self, attempt: int) -> float:
        delay = self.BACKOFF_BASE * 2 ** (attempt - 1)
        return delay + self._random.uniform(0, delay)

    def _error(self, response: httpx.Response, payload: Any) -> PlatformError:
        """Stripe's `{error: {type, message, code, param}}`, as one line."""
        error = payload.get("error") if isinstance(payload, dict) else None
        detail = ""
        if isinstance(error, dict):
            parts = [str(error.get(k)) for k in ("type", "code", "param") if error.get(k)]
            detail = (
                ": "
                + " ".join(parts)
                + (f" ({str(error.get('message'))[:200]})" if error.get("message") else "")
            )
        request = response.request
        return PlatformError(
            f"{request.method} {request.url.path} failed with HTTP {response.status_code}{detail}",
            status=response.status_code,
        )

    # -- paging ----------------------------------------------------------------------------------

    def _pages(self, path: str, after: str | None = None) -> Iterator[tuple[list[Record], str | None]]:
        """(records, id of the last record) per page, from after `after` until `has_more` is false."""
        while True:
            params: dict[str, Any] = {"limit": self._page_size}
            if after:
                params["starting_after"] = after
            page = self._api("GET", path, params=params)
            data = page.get("data") if isinstance(page, dict) else None
            if not isinstance(data, list):
                raise PlatformError(f"GET {path} answered without a data array")
            last = data[-1].get("id") if data and isinstance(data[-1], dict) else None
            yield data, last or after
            if not page.get("has_more") or not last or last == after:
                return
            after = last

    # -- sync ------------------------------------------------------------------------------------

    def sync(self, state: Mapping[str, Any] | None = None) -> None:
        """One sync under a new correlation id; a failure is logged with its cause, then raised."""
        self.sink.sync_id = uuid.uuid4().hex
        try:
            self._sync(state)
        except Exception as exc:
            self.sink.log("error", "sync failed", error=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            self.sink.sync_id = None

    def _sync(self, state: Mapping[str, Any] | None) -> None:
        """Pull changes into the sink: full (state None), resumed, or incremental from the events."""
        if not state:
            self._full_sync()
        elif state.get("stream") in self._streams:
            self._resume_full_sync(state)
        elif "last_event" in state and "stream" not in state:
            self._incremental_sync(state["last_event"])
        else:
            self.sink.log("warning", "unusable state, running a full sync")
            self._full_sync()

    def _full_sync(self) -> None:
        last_event = self._feed_position()
        self.sink.log("info", "full sync started", streams=",".join(self._streams))
        self._sync_streams(self._streams, None, last_event)

    def _resume_full_sync(self, state: Mapping[str, Any]) -> None:
        remaining = self._streams[self._streams.index(state["stream"]) :]
        self.sink.log("info", "resuming full sync", stream=state["stream"])
        self._sync_streams(remaining, state.get("after"), state.get("last_event"))

    def _feed_position(self) -> str | None:
        """The id of the newest event now (events list newest first); later ones come incrementally."""
        page = self._api("GET", EVENTS_PATH, params={"limit": 1})
        data = page.get("data") if isinstance(page, dict) else None
        return data[0].get("id") if isinstance(data, list) and data and isinstance(data[0], dict) else None

    def _sync_streams(self, streams: Sequence[str], after: str | None, last_event: str | None) -> None:
        for index, stream in enumerate(streams):
            following = streams[index + 1] if index + 1 < len(streams) else None
            for records, last in self._pages(f"/v1/{stream}", after):
                for record in records:
                    self._store(stream, record)
                self.sink.log("info", "page fetched", stream=stream, count=len(records))
                self.sink.checkpoint({"stream": stream, "after": last, "last_event": last_event})
            if following:
                self.sink.checkpoint({"stream": following, "after": None, "last_event": last_event})
            after = None
        self.sink.checkpoint({"last_event": last_event})
        self.sink.log("info", "full sync finished")

    def _incremental_sync(self, last_event: str | None) -> None:
        """Apply the events after `last_event`, oldest first, checkpointing the newest applied."""
        if last_event is None:  # no event existed at the full sync: every event is new
            self._apply_all_events()
            return
        while True:
            page = self._api(
                "GET", EVENTS_PATH, params={"limit": self._page_size, "ending_before": last_event}
            )
            events = page.get("data") if isinstance(page, dict) else None
            if not isinstance(events, list):
                raise PlatformError(f"GET {EVENTS_PATH} answered without a data array")
            for event in reversed(events):  # a page runs newest first
                self._apply_event(event)
            self.sink.log("info", "page fetched", stream="events", count=len(events))
            if events and isinstance(events[0], dict) and events[0].get("id"):
                last_event = str(events[0]["id"])
                self.sink.checkpoint({"last_event": last_event})
            if not page.get("has_more") or not events:
                return

    def _apply_all_events(self) -> None:
        events: list[Record] = []
        for page, _last in self._pages(EVENTS_PATH):
            events += page
        for event in reversed(events):
            self._apply_event(event)
        newest = events[0].get("id") if events and isinstance(events[0], dict) else None
        self.sink.checkpoint({"last_event": newest})

    def _apply_event(self, event: Mapping[str, Any]) -> None:
        kind, _, action = str(event.get("type", "")).rpartition(".")
        stream = self.EVENT_STREAMS.get(kind)
        data = event.get("data")
        record = data.get("object") if isinstance(data, dict) else None
        if stream not in self._streams or not isinstance(record, dict) or "id" not in record:
            return
        if action == "deleted":
            self.sink.delete(stream, record["id"])
        elif action in ("created", "updated"):
            self._store(stream, record)

    def _store(self, stream: str, record: Record) -> None:
        keep = self._fields.get(stream)
        if keep:
            record = {key: value for key, value in record.items() if key == "id" or key in keep}
        self.sink.upsert(stream, record)

    # -- webhooks --------------------------------------------------------------------------------

    def handle_webhook(self, headers: Headers, body: bytes | str) -> int:
        """Verify and apply one Stripe-signed event delivery; return the HTTP status to answer."""
        body = body.encode() if isinstance(body, str) else bytes(body)
        items = headers.items() if isinstance(headers, Mapping) else headers
        lowered = {str(name).lower(): str(value) for name, value in items}
        refusal = self._verify_webhook(lowered.get("stripe-signature", ""), body)
        if refusal is not None:
            return refusal
        try:
            event = json.loads(body)
        except (ValueError, RecursionError):
            self.sink.log("warning", "webhook body is not JSON")
            return 400
        if not isinstance(event, dict) or not isinstance(event.get("id"), str):
            self.sink.log("warning", "webhook payload not understood")
            return 400
        if event["id"] in self._seen_webhooks:
            self.sink.log("info", "webhook already applied", event_id=event["id"])
            return 200
        self._apply_event(event)
        self._seen_webhooks[event["id"]] = None
        while len(self._seen_webhooks) > self.WEBHOOK_MEMORY:
            self._seen_webhooks.popitem(last=False)
        return 200

    def _verify_webhook(self, header: str, body: bytes) -> int | None:
        """None if `Stripe-Signature` is valid and fresh, else the status to refuse it with."""
        parts = [item.partition("=") for item in header.split(",")]
        timestamps = [value for key, _, value in parts if key.strip() == "t"]
        signatures = [value for key, _, value in parts if key.strip() == "v1"]
        if len(timestamps) != 1 or not timestamps[0].isdigit() or not signatures:
            self.sink.log("warning", "webhook refused: missing or malformed Stripe-Signature")
            return 400
        if abs(time.time() - int(timestamps[0])) > self.WEBHOOK_TOLERANCE:
            self.sink.log("warning", "webhook refused: stale timestamp")
            return 401
        secret = str(self._webhook_secret or "")
        if not secret:
            return 401
        signed = timestamps[0].encode() + b"." + body
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        if not any(hmac.compare_digest(expected, candidate.strip()) for candidate in signatures):
            self.sink.log("warning", "webhook refused: bad signature")
            return 401
        return None

    # -- push ------------------------------------------------------------------------------------

    def push(self, stream: str, records: Iterable[Mapping[str, Any]]) -> list[Any]:
        """Create each record, form-encoded, with an Idempotency-Key that stays the same on retry."""
        created = []
        for record in records:
            fields = {k: v for k, v in record.items() if k not in ("id", "object", "created", "livemode")}
            headers = {
                "Idempotency-Key": self._idempotency_key(stream, record),
                "Content-Type": "application/x-www-form-urlencoded",
            }
            created.append(self._api("POST", f"/v1/{stream}", content=_urlencode(fields), headers=headers))
        self.sink.log("info", "records pushed", stream=stream, count=len(created))
        return created

    def _idempotency_key(self, stream: str, record: Mapping[str, Any]) -> str:
        canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
        return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{stream}:{canonical}"))


def _urlencode(fields: Mapping[str, Any]) -> bytes:
    return urlencode(form_pairs(fields)).encode()
