"""A CRM connector in asyncio style: one `httpx.AsyncClient`, the streams of a full sync paged
concurrently (`asyncio.gather`), a pacer and a token shared by every task, exponential backoff
with jitter, Standard Webhooks verified with the `standardwebhooks` package.

While a 429's Retry-After runs, every task waits: the pause is the platform's, not one stream's.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
import time
import uuid
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

STREAMS = ("contacts", "companies", "deals")
EVENT_STREAMS = {"contact": "contacts", "company": "companies", "deal": "deals"}
CREATE_FIELDS = {
    "contacts": (
        "email",
        "first_name",
        "last_name",
        "phone",
        "company_id",
        "lifecycle_stage",
        "tags",
        "custom_fields",
    )
}
RETRYABLE = {500, 502, 503, 504}
ATTEMPTS = 6
BASE_DELAY, MAX_DELAY = 0.2, 8.0
TIMEOUT = httpx.Timeout(15.0, connect=5.0)
SEEN_LIMIT = 10_000


class PlatformError(RuntimeError):
    pass


# Logs: stdlib logging (the host keeps the records and their extras); the running sync's id is a
# contextvar, so every task of a sync logs under it.
log = logging.getLogger("clean_async")
SYNC_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("sync_id", default=None)


class _SyncId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.sync_id = SYNC_ID.get()
        return True


log.addFilter(_SyncId())


def _logged(response: httpx.Response, request_id: str) -> httpx.Response:
    log.info(
        "request",
        extra={
            "method": response.request.method,
            "path": response.request.url.path,
            "status": response.status_code,
            "request_id": request_id,
        },
    )
    return response


class Pacer:
    """Request pacing shared by all tasks: a pause until a Retry-After has passed, then at most
    the rate the platform announced (RateLimit-Policy of its 429)."""

    def __init__(self) -> None:
        self.interval = 0.0
        self.next_at = 0.0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self.lock:
            now = time.monotonic()
            delay = self.next_at - now
            self.next_at = max(now, self.next_at) + self.interval
        if delay > 0:
            await asyncio.sleep(delay)

    def pause(self, seconds: float, policy: str | None) -> None:
        quota = window = None
        for part in (policy or "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == "q" and value.isdigit():
                quota = int(value)
            elif key == "w" and value.isdigit():
                window = int(value)
        if quota and window:
            self.interval = max(self.interval, window / quota / 0.9)
        self.next_at = max(self.next_at, time.monotonic() + seconds)


def _backoff(attempt: int) -> float:
    """Exponential backoff with equal jitter: half of the step fixed, half random."""
    step = min(MAX_DELAY, BASE_DELAY * 2**attempt)
    return step / 2 + random.uniform(0, step / 2)


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return 1.0


class AsyncParallelSync:
    def __init__(self, config: dict[str, Any], sink: Any) -> None:
        self.config, self.sink = config, sink
        self.base = config["base_url"].rstrip("/")
        self.page_size = int(config.get("page_size", 100))
        self.parallel = bool(config.get("parallel_streams", True))  # false: one stream at a time
        self.token: str | None = None
        self.token_expires = 0.0
        self.seen: dict[str, None] = {}
        secret = config.get("webhook_secret")
        self.webhook = Webhook(secret) if secret else None

    # -- the connector interface (each call runs its own event loop) --------------------------

    def check(self) -> None:
        asyncio.run(self._session(self._check))

    def sync(self, state: Any) -> None:
        SYNC_ID.set(uuid.uuid4().hex)  # asyncio.run copies the context: every task sees it
        try:
            asyncio.run(self._session(self._sync, state))
        except Exception as exc:
            log.error("sync failed", extra={"error": f"{type(exc).__name__}: {exc}"})
            raise
        finally:
            SYNC_ID.set(None)

    def push(self, stream: str, records: Any) -> None:
        asyncio.run(self._session(self._push, stream, list(records)))

    def handle_webhook(self, headers: dict[str, str], body: bytes) -> int:
        if self.webhook is None:
            return 404
        lower = {k.lower(): v for k, v in headers.items()}
        try:
            event = self.webhook.verify(body, lower)
        except (WebhookVerificationError, ValueError, KeyError, TypeError):
            return 401
        message_id = lower.get("webhook-id", "")
        if message_id in self.seen:
            return 200
        if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
            return 400
        kind, data = event.get("type"), event["data"]
        if kind in ("contact.created", "contact.updated") and isinstance(data.get("id"), str):
            self.sink.upsert("contacts", data)
        elif kind == "contact.deleted" and isinstance(data.get("id"), str):
            self.sink.delete("contacts", data["id"])
        else:
            self.sink.log("warning", "webhook of an unknown type ignored", type=str(kind)[:100])
        self.seen[message_id] = None
        if len(self.seen) > SEEN_LIMIT:
            self.seen.pop(next(iter(self.seen)))
        return 200

    def close(self) -> None:
        pass

    # -- one call's session --------------------------------------------------------------------

    async def _session(self, body: Any, *args: Any) -> None:
        self.pacer = Pacer()
        self.token_lock = asyncio.Lock()
        async with httpx.AsyncClient(timeout=TIMEOUT, headers={"User-Agent": "clean-async/1.0"}) as self.http:
            await body(*args)

    async def _check(self) -> None:
        await self._access_token(renew=True)
        await self._call("GET", "/v1/contacts", params={"limit": 1})

    async def _sync(self, state: Any) -> None:
        if not state or "feed" not in state:
            feed = await self._feed_end()
            state = {"feed": feed, "cursors": {s: None for s in STREAMS}}
            self.sink.checkpoint(state)
        cursors: dict[str, Any] = dict(state.get("cursors") or {})
        if cursors:
            # Every task checkpoints the whole map of cursors after each page it stored: a
            # resumed sync restarts each stream from its own last page.
            async def page_stream(stream: str) -> None:
                while stream in cursors:
                    params: dict[str, Any] = {"limit": self.page_size}
                    if cursors[stream]:
                        params["cursor"] = cursors[stream]
                    page = await self._call("GET", f"/v1/{stream}", params=params)
                    for record in page["data"]:
                        self.sink.upsert(stream, record)
                    if page.get("next_cursor"):
                        cursors[stream] = page["next_cursor"]
                    else:
                        del cursors[stream]
                    self.sink.checkpoint({"feed": state["feed"], "cursors": dict(cursors)})

            if self.parallel:
                await asyncio.gather(*(page_stream(s) for s in list(cursors)))
            else:
                for stream in list(cursors):
                    await page_stream(stream)
        await self._follow_feed(state["feed"])

    async def _push(self, stream: str, records: list[dict[str, Any]]) -> None:
        allowed = CREATE_FIELDS[stream]
        for record in records:
            body = {k: v for k, v in record.items() if k in allowed}
            key = str(uuid.uuid4())  # one per logical write, the same on every retry
            await self._call("POST", f"/v1/{stream}", json=body, headers={"Idempotency-Key": key})

    # -- auth and HTTP -------------------------------------------------------------------------

    async def _access_token(self, renew: bool = False, stale: str | None = None) -> str:
        async with self.token_lock:  # one token request, however many tasks need a token
            expired = self.token is None or time.monotonic() >= self.token_expires
            if expired or (renew and self.token == stale):
                body = await self._token_request()
                lifetime = float(body["expires_in"])
                self.token = body["access_token"]
                self.token_expires = time.monotonic() + lifetime - min(30.0, lifetime / 5)
                log.info("access token issued", extra={"expires_in": body["expires_in"]})
            assert self.token is not None
            return self.token

    async def _token_request(self) -> dict[str, Any]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.config["client_id"],
            "client_secret": self.config["client_secret"],
            "scope": " ".join(self.config["scopes"]),
        }
        for attempt in range(ATTEMPTS):
            await self.pacer.wait()
            try:
                rid = str(uuid.uuid4())
                response = _logged(
                    await self.http.post(self.config["token_url"], data=form, headers={"X-Request-Id": rid}),
                    rid,
                )
                if response.status_code == 200:
                    return dict(response.json())
            except (httpx.TransportError, ValueError):
                await asyncio.sleep(_backoff(attempt))
                continue
            if response.status_code == 429:
                self.pacer.pause(_retry_after(response), response.headers.get("RateLimit-Policy"))
            elif response.status_code in RETRYABLE:
                await asyncio.sleep(_backoff(attempt))
            else:
                raise PlatformError(
                    f"the token endpoint refused the credentials (POST {response.request.url.path} -> "
                    f"{response.status_code})"
                )
        raise PlatformError(f"the token endpoint did not answer after {ATTEMPTS} attempts")

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        extra = kwargs.pop("headers", {})
        renewed_from: set[str] = set()  # a 401 on a token not yet renewed from: renew (once per token)
        for attempt in range(ATTEMPTS):
            token = await self._access_token()
            await self.pacer.wait()
            try:
                rid = str(uuid.uuid4())
                headers = {"Authorization": f"Bearer {token}", "X-Request-Id": rid, **extra}
                response = _logged(
                    await self.http.request(method, self.base + path, headers=headers, **kwargs), rid
                )
                body = response.json() if response.content and response.status_code < 300 else None
            except (httpx.TransportError, ValueError) as exc:  # dropped, timed out, cut off
                last = type(exc).__name__
                await asyncio.sleep(_backoff(attempt))
                continue
            status = response.status_code
            if status < 300:
                return body
            if status == 401 and token not in renewed_from:
                renewed_from.add(token)
                await self._access_token(renew=True, stale=token)
                continue
            if status == 429:
                self.pacer.pause(_retry_after(response), response.headers.get("RateLimit-Policy"))
                last = "429"
                continue
            if status in RETRYABLE:
                last = str(status)
                await asyncio.sleep(_backoff(attempt))
                continue
            raise PlatformError(f"{method} {path} -> {status}")
        raise PlatformError(f"{method} {path}: gave up after {ATTEMPTS} attempts (last: {last})")

    # -- the change feed ---------------------------------------------------------------------

    async def _feed_end(self) -> str:
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 200}
            if cursor:
                params["cursor"] = cursor
            page = await self._call("GET", "/v1/events", params=params)
            cursor = page["next_cursor"]
            if not page["has_more"]:
                return cursor

    async def _follow_feed(self, cursor: str) -> None:
        while True:
            page = await self._call("GET", "/v1/events", params={"limit": 200, "cursor": cursor})
            for event in page["data"]:
                kind, _, action = str(event.get("type", "")).partition(".")
                stream = EVENT_STREAMS.get(kind)
                if stream is None:
                    continue
                if action == "deleted":
                    self.sink.delete(stream, event["object_id"])
                elif isinstance(event.get("object"), dict):
                    self.sink.upsert(stream, event["object"])
            cursor = page["next_cursor"]
            self.sink.checkpoint({"feed": cursor})
            if not page["has_more"]:
                return
