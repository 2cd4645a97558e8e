"""A CRM command connector using only Python's standard library.

    python3 stdlib_sync.py check|sync|push|serve --config FILE [--state FILE] [--stream NAME] [--port N]

One JSON message a line on stdout (RECORD, DELETE, STATE, LOG); diagnostics on stderr. HTTP with
urllib (TLS verified with the default context, which honours SSL_CERT_FILE), webhooks with
http.server and hmac.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import random
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

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
TIMEOUT = 15.0
TOLERANCE = 300  # webhook timestamps: 5 minutes either way
MAX_BODY = 1 << 20


class PlatformError(Exception):
    pass


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


SYNC_ID = uuid.uuid4().hex  # one process per call: its correlation id, on every log line
last_request = ""  # "GET /v1/contacts -> 403": what a failure's log line names


def log(level: str, message: str, **fields: Any) -> None:
    emit({"type": "LOG", "level": level, "message": message, "sync_id": SYNC_ID, **fields})


def backoff(attempt: int) -> float:
    """Exponential backoff with equal jitter: half the step fixed, half random."""
    step = min(8.0, 0.2 * 2**attempt)
    return step / 2 + random.uniform(0, step / 2)


class Client:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.base = config["base_url"].rstrip("/")
        self.token: str | None = None
        self.token_expires = 0.0
        self.interval = 0.0  # seconds between requests, once a 429 said how fast is allowed
        self.next_at = 0.0

    def _pace(self) -> None:
        now = time.monotonic()
        delay = self.next_at - now
        self.next_at = max(now, self.next_at) + self.interval
        if delay > 0:
            time.sleep(delay)

    def _rate_limited(self, headers: Any) -> None:
        policy = headers.get("RateLimit-Policy") or ""
        quota, window = re.search(r"q=(\d+)", policy), re.search(r"w=(\d+)", policy)
        if quota and window and int(quota.group(1)) > 0:
            self.interval = max(self.interval, int(window.group(1)) / int(quota.group(1)) / 0.9)
        try:
            wait = max(0.0, float(headers.get("Retry-After", "1")))
        except ValueError:
            wait = 1.0
        self.next_at = max(self.next_at, time.monotonic() + wait)

    def _exchange(self, request: urllib.request.Request) -> tuple[int, Any, bytes]:
        """One request: (status, headers, body). Network trouble raises OSError or IncompleteRead."""
        request_id = str(uuid.uuid4())
        request.add_header("X-Request-Id", request_id)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                status, headers, body = response.status, response.headers, response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                status, headers, body = exc.code, exc.headers, exc.read()
        global last_request
        last_request = f"{request.get_method()} {urllib.parse.urlsplit(request.full_url).path} -> {status}"
        log("debug", "request", request=last_request, request_id=request_id)
        return status, headers, body

    def access_token(self, renew: bool = False) -> str:
        if not renew and self.token and time.monotonic() < self.token_expires:
            return self.token
        form = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": self.config["client_id"],
                "client_secret": self.config["client_secret"],
                "scope": " ".join(self.config["scopes"]),
            }
        ).encode()
        for attempt in range(ATTEMPTS):
            self._pace()
            request = urllib.request.Request(self.config["token_url"], data=form, method="POST")
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
            try:
                status, headers, raw = self._exchange(request)
                body = json.loads(raw) if status == 200 else None
            except (OSError, http.client.HTTPException, ValueError):
                time.sleep(backoff(attempt))
                continue
            if status == 200:
                lifetime = float(body["expires_in"])
                self.token = body["access_token"]
                self.token_expires = time.monotonic() + lifetime - min(30.0, lifetime / 5)
                log("info", "access token issued", expires_in=body["expires_in"])
                return self.token
            if status == 429:
                self._rate_limited(headers)
            elif status in RETRYABLE:
                time.sleep(backoff(attempt))
            else:
                raise PlatformError(f"the token endpoint refused the credentials (status {status})")
        raise PlatformError(f"the token endpoint did not answer after {ATTEMPTS} attempts")

    def call(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        params = {k: v for k, v in (query or {}).items() if v is not None}
        url = self.base + path + ("?" + urllib.parse.urlencode(params) if params else "")
        data = json.dumps(body).encode() if body is not None else None
        renewed, last = False, ""
        for attempt in range(ATTEMPTS):
            token = self.access_token()
            self._pace()
            request = urllib.request.Request(url, data=data, method=method)
            request.add_header("Authorization", f"Bearer {token}")
            if data is not None:
                request.add_header("Content-Type", "application/json")
            for key, value in (headers or {}).items():
                request.add_header(key, value)
            try:
                status, reply_headers, raw = self._exchange(request)
                parsed = json.loads(raw) if status < 300 and raw else None
            except (OSError, http.client.HTTPException, ValueError) as exc:
                last = type(exc).__name__  # dropped, timed out, or a body cut off mid-way
                time.sleep(backoff(attempt))
                continue
            if status < 300:
                return parsed
            if status == 401 and not renewed:
                renewed = True
                self.access_token(renew=True)
                continue
            last = str(status)
            if status == 429:
                self._rate_limited(reply_headers)
                continue
            if status in RETRYABLE:
                time.sleep(backoff(attempt))
                continue
            raise PlatformError(f"{method} {path} -> {status}")
        raise PlatformError(f"{method} {path}: gave up after {ATTEMPTS} attempts (last: {last})")


def keep(config: dict[str, Any], stream: str, record: dict[str, Any]) -> dict[str, Any]:
    fields = (config.get("fields") or {}).get(stream)
    return record if fields is None else {k: v for k, v in record.items() if k == "id" or k in fields}


def feed_end(client: Client) -> str:
    cursor = None
    while True:
        page = client.call("GET", "/v1/events", {"limit": 200, "cursor": cursor})
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return cursor


def sync(client: Client, config: dict[str, Any], state: Any) -> None:
    if not state or "feed" not in state:
        state = {"feed": feed_end(client), "pending": list(STREAMS), "cursor": None}
        emit({"type": "STATE", "value": state})
    while state.get("pending"):
        stream = state["pending"][0]
        page = client.call(
            "GET", f"/v1/{stream}", {"limit": config.get("page_size", 100), "cursor": state["cursor"]}
        )
        for record in page["data"]:
            emit({"type": "RECORD", "stream": stream, "record": keep(config, stream, record)})
        if page.get("next_cursor"):
            state = {**state, "cursor": page["next_cursor"]}
        else:
            state = {**state, "pending": state["pending"][1:], "cursor": None}
        emit({"type": "STATE", "value": state})
    cursor = state["feed"]
    while True:
        page = client.call("GET", "/v1/events", {"limit": 200, "cursor": cursor})
        for event in page["data"]:
            kind, _, action = str(event.get("type", "")).partition(".")
            stream = EVENT_STREAMS.get(kind)
            if stream is None:
                continue
            if action == "deleted":
                emit({"type": "DELETE", "stream": stream, "id": event["object_id"]})
            elif isinstance(event.get("object"), dict):
                emit({"type": "RECORD", "stream": stream, "record": keep(config, stream, event["object"])})
        cursor = page["next_cursor"]
        emit({"type": "STATE", "value": {"feed": cursor}})
        if not page["has_more"]:
            return


def push(client: Client, stream: str) -> None:
    allowed = CREATE_FIELDS.get(stream)
    if allowed is None:
        raise PlatformError(f"cannot push to {stream}")
    for line in sys.stdin:
        if not line.strip():
            continue
        message = json.loads(line)
        if message.get("type") != "RECORD":
            continue
        body = {k: v for k, v in message["record"].items() if k in allowed}
        # one key per logical write, the same on every retry of it
        client.call("POST", f"/v1/{stream}", body=body, headers={"Idempotency-Key": str(uuid.uuid4())})


def verified(secret: str, headers: Any, body: bytes) -> bool:
    msg_id, stamp, signatures = (
        headers.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature")
    )
    if not (msg_id and stamp and signatures and stamp.isdigit()):
        return False
    if abs(time.time() - int(stamp)) > TOLERANCE:
        return False
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"))
    except ValueError:
        return False
    expected = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    for entry in signatures.split(" "):
        version, _, value = entry.partition(",")
        try:
            given = base64.b64decode(value, validate=True)
        except ValueError:
            continue
        if version == "v1" and hmac.compare_digest(given, expected):
            return True
    return False


def serve(config: dict[str, Any], port: int, path: str = "/webhooks") -> None:
    secret = config.get("webhook_secret")
    seen: set[str] = set()

    class Deliveries(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # stderr stays quiet
            pass

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                return self._answer(400)
            if length < 0 or length > MAX_BODY:
                return self._answer(413)
            body = self.rfile.read(length)
            if urllib.parse.urlsplit(self.path).path != path:
                return self._answer(404)
            if not secret or not verified(secret, self.headers, body):
                return self._answer(401)
            msg_id = self.headers["webhook-id"]
            if msg_id in seen:
                return self._answer(200)
            try:
                event = json.loads(body)
            except ValueError:
                return self._answer(400)
            data = event.get("data") if isinstance(event, dict) else None
            if not isinstance(data, dict):
                return self._answer(400)
            kind = event.get("type")
            if kind in ("contact.created", "contact.updated") and isinstance(data.get("id"), str):
                emit({"type": "RECORD", "stream": "contacts", "record": keep(config, "contacts", data)})
            elif kind == "contact.deleted" and isinstance(data.get("id"), str):
                emit({"type": "DELETE", "stream": "contacts", "id": data["id"]})
            else:
                log("warning", "webhook of an unknown type ignored", event_type=str(kind)[:100])
            seen.add(msg_id)
            self._answer(200)

        def do_GET(self) -> None:
            self._answer(405)

    HTTPServer(("127.0.0.1", port), Deliveries).serve_forever()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["check", "sync", "push", "serve"])
    parser.add_argument("--config", required=True)
    parser.add_argument("--state")
    parser.add_argument("--stream")
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    with open(args.config, encoding="utf-8") as f:
        config = json.load(f)
    client = Client(config)
    try:
        if args.command == "check":
            client.access_token(renew=True)
            client.call("GET", "/v1/contacts", {"limit": 1})
        elif args.command == "sync":
            state = None
            if args.state:
                with open(args.state, encoding="utf-8") as f:
                    state = json.load(f)
            sync(client, config, state)
        elif args.command == "push":
            push(client, args.stream)
        else:
            serve(config, args.port)
    except PlatformError as exc:
        failure = {"level": "error", "message": "failed", "error": str(exc), "request": last_request}
        print(json.dumps({**failure, "sync_id": SYNC_ID}), file=sys.stderr)  # structured, like every log line
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
