"""Reference connector for the GitHub-like contract: issues and comments, page-number paging to
the end the `Link` header names, `since` for incremental syncs, and webhooks signed GitHub's way.

Page numbers are offsets: a record deleted (or updated: it moves to the end) before the page
being read moves the next records back onto a page already read. After each page the connector
re-reads the tail of the one before (`_shifted`) and stores what slid there; it checkpoints after
every page (the next page, the pass's `since` and mark), so a crash resumes at the page it was in.

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
import ssl
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

USER_AGENT = "github-sync/0.2.0"
Headers = Mapping[str, str] | Iterable[tuple[str, str]]


class GitHubSync:
    STREAMS = {"issues": "/repos/{owner}/{repo}/issues", "comments": "/repos/{owner}/{repo}/issues/comments"}
    REPOS = "/user/repos"  # the parent collection: `/repos/{owner}/{repo}` names each
    ID = {"issues": "number", "comments": "id"}
    FILTERS = {"issues": {"state": "all"}}  # GitHub lists open issues only unless asked
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
        # streams synced under every repository the token lists (`[connector.parents]`, passed
        # as `parents`); any other under the configured owner/repo only
        parents = dict(config.get("parents") or {})
        self._every_repo = {stream for stream, parent in parents.items() if parent == "repos"}
        self._webhook_secret = config.get("webhook_secret")
        self._page_size = max(1, min(int(config.get("page_size") or 100), 100))
        self._client = httpx.Client(
            timeout=httpx.Timeout(5.0),
            headers={"User-Agent": USER_AGENT, "Accept": "application/vnd.github+json"},
        )
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._listed: list[tuple[str, str]] | None = None
        self._trace_id: str | None = None  # W3C trace id of the running sync: its correlation id

    def _log(self, level: str, message: str, **fields: Any) -> None:
        self.sink.log(level, message, sync_id=self._trace_id, **fields)

    def check(self) -> None:
        self._get(self._base_url + self.REPOS, {"per_page": 1})

    def close(self) -> None:
        self._client.close()

    # -- sync ------------------------------------------------------------------------------------

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
            except (httpx.TransportError, ValueError) as exc:
                if attempt == self.MAX_ATTEMPTS or _certificate_refused(exc):
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

    def _page(
        self, url: str, stream: str, page: int, per_page: int, since: str | None
    ) -> tuple[list[Any], bool]:
        """Page `page` at `per_page` records (GitHub's offset is (page - 1) * per_page); whether
        the `Link` header names a next one."""
        params: dict[str, Any] = {"per_page": per_page, "page": page, **self.FILTERS.get(stream, {})}
        if since:
            params["since"] = since
        response = self._get(url, params)
        return list(response.json()), "next" in response.links

    def _repos(self, stream: str) -> list[tuple[str, str]]:
        """(owner, repo) of each repository the stream is synced under: every one the token lists
        (the parent collection, listed first, once per run), or the configured one."""
        if stream not in self._every_repo:
            return [(self._owner, self._repo)]
        if self._listed is None:
            listed: list[tuple[str, str]] = []
            page, more = 1, True
            while more:
                records, more = self._page(self._base_url + self.REPOS, "repos", page, self._page_size, None)
                listed += [(str(r["owner"]["login"]), str(r["name"])) for r in records]
                more, page = more and bool(records), page + 1
            self._listed = listed
        return self._listed

    def _shifted(
        self, url: str, stream: str, page: int, since: str | None, before: dict[Any, Any]
    ) -> list[Any]:
        """Records that moved back across the boundary before `page` while it was paging.

        Deleting (or updating, which moves a record to the end) a record before that boundary
        moves every later record back by one, so the first records of `page` slid onto page
        `page - 1`, already read: no page number shows them again, and, unchanged, no `since`
        query brings them back. They are the last records before the boundary that `before` (page
        `page - 1` as read) does not hold: read the tail of page `page - 1` in windows of a fifth
        of a page (the same offsets, at a smaller `per_page`) until one holds a record seen."""
        tail = self._page_size // 5 if self._page_size % 5 == 0 and self._page_size >= 5 else self._page_size
        window = (page - 1) * self._page_size // tail  # the window ending at the boundary
        found: list[Any] = []
        while window >= 1:
            records, _ = self._page(url, stream, window, tail, since)
            fresh = [r for r in records if r.get(self.ID[stream]) not in before]
            found = fresh + found
            if len(fresh) < len(records) or not records:
                break
            window -= 1
        return found

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
        """Per stream and repository: a pass over every page, from page 1 of what changed since
        its mark (everything, on a full sync), or from the page a crash interrupted. A checkpoint
        after each page names the next page, the `since` of the pass and its mark: the newest
        `updated_at` read so far, which the next pass asks `since` (inclusive). The list is
        ordered least recently updated first and the pass reads it to the end, so whatever
        changes while it pages is read in this pass, and whatever changes after has a later
        `updated_at` than the mark."""
        saved = dict((state or {}).get("streams") or {})
        streams = {s: {r: dict(e) for r, e in dict(saved.get(s) or {}).items()} for s in self.STREAMS}
        for stream in self.STREAMS:
            for repo in self._repos(stream):
                self._sync_stream(stream, repo, streams)

    def _sync_stream(self, stream: str, repo: tuple[str, str], streams: dict[str, dict[str, Any]]) -> None:
        """One pass over a stream's list under one repository; its state is under `owner/repo`."""
        owner, name = repo
        url = self._base_url + self.STREAMS[stream].format(
            owner=quote(owner, safe=""), repo=quote(name, safe="")
        )
        key = "/".join(repo)
        entry = streams[stream].get(key) or {}
        if not entry or entry.get("done"):  # a new pass, from the last one's mark
            entry = {"since": entry.get("mark"), "mark": entry.get("mark"), "page": 1, "last": []}
        since, mark, page = entry.get("since"), entry.get("mark"), int(entry.get("page") or 1)
        # the page before `page` as read: id -> updated_at (a checkpoint carries it as pairs)
        before: dict[Any, Any] = {i: u for i, u in entry.get("last") or ()}
        while True:
            records, more = self._page(url, stream, page, self._page_size, since)
            if page > 1:
                records = self._shifted(url, stream, page, since, before) + records
            ids: dict[Any, Any] = {}
            for record in records:
                record_id, stamp = record.get(self.ID[stream]), record.get("updated_at")
                if record_id in ids or before.get(record_id, ()) == stamp:
                    continue  # the same version read twice (moved onto the next page): stored once
                ids[record_id] = stamp
                self.sink.upsert(stream, record)
                mark = max(mark or stamp, stamp) if isinstance(stamp, str) else mark
            done = not more or not records
            entry = {"since": since, "mark": mark, "page": page + 1, "last": list(ids.items()), "done": done}
            streams[stream][key] = entry
            self.sink.checkpoint({"streams": streams})
            if done:
                return
            before, page = ids, page + 1

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


def _certificate_refused(exc: BaseException) -> bool:
    """Whether a transport error is a TLS handshake that failed on the platform's certificate: no
    retry will change it, so it fails the sync at once instead of after every backoff."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
