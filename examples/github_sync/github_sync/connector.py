"""Reference connector for the GitHub-like contract: issues and comments, `Link`-header paging,
`since` for incremental syncs, and webhooks signed GitHub's way.

A delivery is authentic when `X-Hub-Signature-256` is `sha256=` + the hex HMAC-SHA256 of the
raw body (the bytes received, never a re-serialization) keyed by the webhook secret as GitHub
hands it out (a plain string); `X-GitHub-Delivery` is the id a redelivery repeats. Every
behaviour is a small method, so a flawed variant can break exactly one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import secrets
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import httpx

USER_AGENT = "github-sync/0.1.0"
Headers = Mapping[str, str] | Iterable[tuple[str, str]]


class GitHubSync:
    STREAMS = {"issues": "/repos/{owner}/{repo}/issues", "comments": "/repos/{owner}/{repo}/issues/comments"}
    SIGNATURE = "x-hub-signature-256"
    DELIVERY = "x-github-delivery"
    WEBHOOK_MEMORY = 10_000
    MAX_ATTEMPTS = 6  # 429, 5xx and transport errors
    MAX_RETRY_AFTER = 30.0

    def __init__(self, config: Mapping[str, Any], sink: Any) -> None:
        self.sink = sink
        self._base_url = str(config["base_url"]).rstrip("/")
        self._token = str(config.get("client_secret") or "")
        self._owner = str(config.get("owner") or "octocat")
        self._repo = str(config.get("repo") or "hello-world")
        self._webhook_secret = config.get("webhook_secret")
        self._page_size = max(1, min(int(config.get("page_size") or 100), 100))
        self._client = httpx.Client(
            timeout=httpx.Timeout(15.0, connect=5.0),
            headers={"User-Agent": USER_AGENT, "Accept": "application/vnd.github+json"},
        )
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._trace_id: str | None = None  # W3C trace id of the running sync: its correlation id

    def _log(self, level: str, message: str, **fields: Any) -> None:
        self.sink.log(level, message, sync_id=self._trace_id, **fields)

    def check(self) -> None:
        self._get(self._url("issues"), {"per_page": 1})

    def close(self) -> None:
        self._client.close()

    # -- sync ------------------------------------------------------------------------------------

    def _url(self, stream: str) -> str:
        return self._base_url + self.STREAMS[stream].format(owner=self._owner, repo=self._repo)

    def _get(self, url: str, params: dict[str, Any] | None) -> httpx.Response:
        """One GET, retried on 429 (after Retry-After), 5xx and transport errors with backoff."""
        for attempt in range(1, self.MAX_ATTEMPTS + 1):
            span_id = secrets.token_hex(8)  # one span per request, sent as a W3C traceparent
            traceparent = f"00-{self._trace_id or secrets.token_hex(16)}-{span_id}-01"
            try:
                response = self._client.get(
                    url,
                    params=params,
                    headers={"Authorization": f"Bearer {self._token}", "traceparent": traceparent},
                )
                self._log(
                    "debug", "request", path=response.url.path, status=response.status_code, span_id=span_id
                )
                response.read()
                if response.is_success:
                    response.json()  # a cut-off body is retried like a dropped connection
            except (httpx.TransportError, ValueError):
                if attempt == self.MAX_ATTEMPTS:
                    raise
                time.sleep(self._backoff(attempt))
                continue
            if response.status_code == 429 or response.status_code >= 500:
                if attempt == self.MAX_ATTEMPTS:
                    break
                time.sleep(self._wait(response, attempt))
                continue
            response.raise_for_status()
            return response
        response.raise_for_status()
        return response

    def _backoff(self, attempt: int) -> float:
        delay = 0.2 * 2 ** (attempt - 1)
        return delay + random.uniform(0, delay)

    def _wait(self, response: httpx.Response, attempt: int) -> float:
        try:
            return min(max(float(response.headers["Retry-After"]), 0.0), self.MAX_RETRY_AFTER)
        except (KeyError, ValueError):
            return self._backoff(attempt)

    def _pages(self, stream: str, since: str | None) -> Iterator[list[dict[str, Any]]]:
        """Each page of a list, following the `Link: <...>; rel="next"` header to the end."""
        params: dict[str, Any] | None = {"per_page": self._page_size, **({"since": since} if since else {})}
        url: str | None = self._url(stream)
        while url:
            response = self._get(url, params)
            yield response.json()
            url, params = response.links.get("next", {}).get("url"), None

    def sync(self, state: Mapping[str, Any] | None = None) -> None:
        """One sync, one trace; a failure is logged with its cause, then raised."""
        self._trace_id = secrets.token_hex(16)
        try:
            self._sync(state)
        except Exception as exc:
            self._log("error", "sync failed", error=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            self._trace_id = None

    def _sync(self, state: Mapping[str, Any] | None) -> None:
        since = dict(state or {}).get("since")
        newest = since
        for stream in self.STREAMS:
            for page in self._pages(stream, since):
                for record in page:
                    self.sink.upsert(stream, record)
                    stamp = record.get("updated_at")
                    newest = max(newest or stamp, stamp) if isinstance(stamp, str) else newest
        self.sink.checkpoint({"since": newest})

    # -- webhooks --------------------------------------------------------------------------------

    def handle_webhook(self, headers: Headers, body: bytes | str) -> int:
        """Verify and apply one delivery; return the HTTP status to answer."""
        raw = body.encode() if isinstance(body, str) else bytes(body)
        items = headers.items() if isinstance(headers, Mapping) else headers
        lowered = {str(k).lower(): str(v) for k, v in items}
        if not self._is_authentic(lowered, raw):
            self.sink.log("warning", "webhook refused: bad or missing X-Hub-Signature-256")
            return 401
        delivery = lowered.get(self.DELIVERY) or hashlib.sha256(raw).hexdigest()
        if delivery in self._seen:
            return 200
        try:
            event = json.loads(raw)
        except (ValueError, RecursionError):
            return 400
        if not self._apply(event):
            return 400
        self._seen[delivery] = None
        while len(self._seen) > self.WEBHOOK_MEMORY:
            self._seen.popitem(last=False)
        return 204

    def _signed_bytes(self, raw: bytes) -> bytes:
        """What the signature covers: the body exactly as received."""
        return raw

    def _is_authentic(self, headers: Mapping[str, str], raw: bytes) -> bool:
        sent = headers.get(self.SIGNATURE, "")
        if not self._webhook_secret or not sent.startswith("sha256="):
            return False
        key = str(self._webhook_secret).encode()
        expected = "sha256=" + hmac.new(key, self._signed_bytes(raw), hashlib.sha256).hexdigest()
        return hmac.compare_digest(sent, expected)

    def _apply(self, event: Any) -> bool:
        if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
            return False
        data, kind = event["data"], event.get("type")
        if not isinstance(data.get("number"), int) or isinstance(data.get("number"), bool):
            return False
        if kind in ("issue.created", "issue.updated"):
            self.sink.upsert("issues", data)
        elif kind == "issue.deleted":
            self.sink.delete("issues", data["number"])
        else:
            return False
        return True
