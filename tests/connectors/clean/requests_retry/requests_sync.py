"""A CRM connector in the most common Python style: a `requests.Session` whose adapter retries
with urllib3's `Retry` (exponential backoff, Retry-After honoured, POST included because every
write carries an Idempotency-Key), the `standardwebhooks` package for deliveries."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from urllib3.util.retry import Retry

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
TIMEOUT = (5, 15)  # connect, read
BODY_ATTEMPTS = 4  # a body cut off mid-way is read again (urllib3 retries only the exchange)
SEEN_LIMIT = 10_000


class PlatformError(RuntimeError):
    pass


class Pacer:
    """Spaces requests once the platform has said how fast it allows (RateLimit-Policy on a 429)."""

    def __init__(self) -> None:
        self.interval = 0.0
        self.next_at = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            delay = self.next_at - now
            self.next_at = max(now, self.next_at) + self.interval
        if delay > 0:
            time.sleep(delay)

    def learn(self, policy: str | None) -> None:
        quota = window = None
        for part in (policy or "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == "q" and value.isdigit():
                quota = int(value)
            elif key == "w" and value.isdigit():
                window = int(value)
        if quota and window:
            self.interval = max(self.interval, window / quota / 0.9)


class PolicyRetry(Retry):
    """urllib3's Retry, telling the pacer the rate a 429 announces."""

    pacer: Pacer | None = None

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):  # type: ignore[no-untyped-def, override]
        if response is not None and response.status == 429 and self.pacer is not None:
            self.pacer.learn(response.headers.get("RateLimit-Policy"))
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        new.pacer = self.pacer
        return new


class RequestsSync:
    def __init__(self, config: dict[str, Any], sink: Any) -> None:
        self.config, self.sink = config, sink
        self.base = config["base_url"].rstrip("/")
        self.page_size = int(config.get("page_size", 100))
        self.fields = {s: set(f) | {"id"} for s, f in (config.get("fields") or {}).items()}
        self.pacer = Pacer()
        retry = PolicyRetry(
            total=6,
            backoff_factor=0.5,
            backoff_max=10,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=None,  # writes too: each carries an Idempotency-Key
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        retry.pacer = self.pacer
        self.http = requests.Session()
        self.http.mount("https://", HTTPAdapter(max_retries=retry))
        self.http.mount("http://", HTTPAdapter(max_retries=retry))
        self.http.headers["User-Agent"] = "clean-requests-retry/1.0"
        self.http.hooks["response"].append(self._log_response)
        self.sync_id: str | None = None  # the running sync's correlation id, on every log line
        self.last_request = ""  # "GET /v1/contacts -> 403": what a failure's log line names
        self.token: str | None = None
        self.token_expires = 0.0
        self.seen: dict[str, None] = {}
        webhook_secret = config.get("webhook_secret")
        self.webhook = Webhook(webhook_secret) if webhook_secret else None

    def _log(self, level: str, message: str, **fields: Any) -> None:
        self.sink.log(level, message, sync_id=self.sync_id, **fields)

    def _log_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """A session hook: one line per response, with the X-Request-Id it was sent with."""
        path = requests.utils.urlparse(response.request.url).path
        self.last_request = f"{response.request.method} {path} -> {response.status_code}"
        self._log(
            "debug",
            "request",
            request=self.last_request,
            request_id=response.request.headers.get("X-Request-Id"),
        )

    # -- auth --------------------------------------------------------------------------------

    def _access_token(self, renew: bool = False) -> str:
        if renew or self.token is None or time.monotonic() >= self.token_expires:
            self.pacer.wait()
            response = self.http.post(
                self.config["token_url"],
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.config["client_id"],
                    "client_secret": self.config["client_secret"],
                    "scope": " ".join(self.config["scopes"]),
                },
                headers={"X-Request-Id": str(uuid.uuid4())},
                timeout=TIMEOUT,
            )
            if response.status_code != 200:
                raise PlatformError(f"the token endpoint refused the credentials: {_problem(response)}")
            body = response.json()
            lifetime = float(body["expires_in"])
            self.token = body["access_token"]
            self.token_expires = time.monotonic() + lifetime - min(30.0, lifetime / 5)
            self._log("info", "access token issued", expires_in=body["expires_in"])
        assert self.token is not None
        return self.token

    # -- HTTP --------------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call: paced, retried by the adapter, a cut-off body read again, one token
        renewal on a 401; any other error status raises."""
        renewed = False
        for attempt in range(BODY_ATTEMPTS):
            self.pacer.wait()
            headers = {"Authorization": f"Bearer {self._access_token()}", **kwargs.pop("headers", {})}
            headers["X-Request-Id"] = str(uuid.uuid4())
            kwargs["headers"] = headers
            try:
                response = self.http.request(method, self.base + path, timeout=TIMEOUT, **kwargs)
                body = response.json() if response.content else None
            except (
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ConnectionError,
                ValueError,
            ) as exc:
                if attempt + 1 == BODY_ATTEMPTS:
                    raise PlatformError(f"{method} {path}: {type(exc).__name__}") from None
                time.sleep(0.25 * 2**attempt)
                continue
            kwargs["headers"] = {k: v for k, v in headers.items() if k != "Authorization"}
            if response.status_code == 401 and not renewed:
                renewed = True
                self._access_token(renew=True)
                continue
            if response.status_code >= 400:
                raise PlatformError(f"{method} {path} -> {response.status_code}: {_problem(response)}")
            return body
        raise PlatformError(f"{method} {path}: no answer after {BODY_ATTEMPTS} attempts")

    # -- the connector interface -------------------------------------------------------------

    def check(self) -> None:
        self._access_token(renew=True)
        self._call("GET", "/v1/contacts", params={"limit": 1})

    def sync(self, state: Any) -> None:
        """One sync under a new correlation id; a failure is logged with its cause, then raised."""
        self.sync_id = uuid.uuid4().hex
        try:
            self._sync(state)
        except Exception as exc:
            self._log("error", "sync failed", error=f"{type(exc).__name__}: {exc}", request=self.last_request)
            raise
        finally:
            self.sync_id = None

    def _sync(self, state: Any) -> None:
        if not state or "feed" not in state:
            state = {"feed": self._feed_end(), "pending": list(STREAMS), "cursor": None}
            self.sink.checkpoint(state)
        while state.get("pending"):
            stream = state["pending"][0]
            params: dict[str, Any] = {"limit": self.page_size}
            if state.get("cursor"):
                params["cursor"] = state["cursor"]
            page = self._call("GET", f"/v1/{stream}", params=params)
            for record in page["data"]:
                self.sink.upsert(stream, self._keep(stream, record))
            if page.get("next_cursor"):
                state = {**state, "cursor": page["next_cursor"]}
            else:
                state = {**state, "pending": state["pending"][1:], "cursor": None}
            self.sink.checkpoint(state)
        self._follow_feed(state["feed"])

    def push(self, stream: str, records: Any) -> None:
        allowed = CREATE_FIELDS[stream]
        for record in records:
            body = {k: v for k, v in record.items() if k in allowed}
            key = str(uuid.uuid4())  # one per logical write, the same on every retry of it
            self._call("POST", f"/v1/{stream}", json=body, headers={"Idempotency-Key": key})

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
            self.sink.upsert("contacts", self._keep("contacts", data))
        elif kind == "contact.deleted" and isinstance(data.get("id"), str):
            self.sink.delete("contacts", data["id"])
        else:
            self.sink.log("warning", "webhook of an unknown type ignored", type=str(kind)[:100])
        self.seen[message_id] = None
        if len(self.seen) > SEEN_LIMIT:
            self.seen.pop(next(iter(self.seen)))
        return 200

    def close(self) -> None:
        self.http.close()

    # -- helpers -----------------------------------------------------------------------------

    def _feed_end(self) -> str:
        """The change feed's current position: changes after it come in the next incremental sync."""
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 200}
            if cursor:
                params["cursor"] = cursor
            page = self._call("GET", "/v1/events", params=params)
            cursor = page["next_cursor"]
            if not page["has_more"]:
                return cursor

    def _follow_feed(self, cursor: str) -> None:
        while True:
            page = self._call("GET", "/v1/events", params={"limit": 200, "cursor": cursor})
            for event in page["data"]:
                self._apply(event)
            cursor = page["next_cursor"]
            self.sink.checkpoint({"feed": cursor})
            if not page["has_more"]:
                return

    def _apply(self, event: dict[str, Any]) -> None:
        kind, _, action = str(event.get("type", "")).partition(".")
        stream = EVENT_STREAMS.get(kind)
        if stream is None:
            return
        if action == "deleted":
            self.sink.delete(stream, event["object_id"])
        elif isinstance(event.get("object"), dict):
            self.sink.upsert(stream, self._keep(stream, event["object"]))

    def _keep(self, stream: str, record: dict[str, Any]) -> dict[str, Any]:
        keep = self.fields.get(stream)
        return record if keep is None else {k: v for k, v in record.items() if k in keep}


def _problem(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"status {response.status_code}"
    if isinstance(body, dict):
        return str(body.get("error") or body.get("title") or body.get("detail") or response.status_code)[:200]
    return f"status {response.status_code}"
