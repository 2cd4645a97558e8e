"""The reference connector for the warehouse inventory platform that authenticates with a TLS
client certificate (OpenAPI 3.1 `mutualTLS`): products and warehouses, page numbers to the end
`has_more` names, `modified_since` for incremental syncs.

Authentication is the TLS handshake alone: every connection presents the client certificate the
platform issued (`client_cert`, `client_key`), and trusts the platform's certificate from
`ca_bundle` only (the system CAs when none is given). Nothing in a request carries a credential.
A platform certificate that does not verify is not retried (no retry can fix it), nor is a TLS
alert refusing ours. Under TLS 1.3 a platform that refuses our certificate often just closes
the connection after the handshake, which looks like a dropped connection: that is retried as
one, a bounded number of times.

Page numbers are offsets: a record deleted (or updated: it moves to the end) before the page
being read moves the next records back onto a page already read. After each page the connector
re-reads the tail of the one before (`_shifted`) and stores what slid there; it checkpoints after
every page (the next page, the pass's `since` and mark), so a crash resumes at the page it was in.
The list is ordered least recently modified first and a pass reads it to the end, so the newest
`modified_at` read (the mark) is where the next pass asks `modified_since` (inclusive).
Deletions cannot be seen this way (the platform has no change feed).
"""

from __future__ import annotations

import random
import ssl
import time
import uuid
from collections.abc import Mapping
from typing import Any

import httpx

PATHS = {"products": "/products", "warehouses": "/warehouses"}
ID = {"products": "sku", "warehouses": "code"}
MAX_PAGE = 500  # the contract's maximum `per_page`
MAX_ATTEMPTS = 6  # 429, 5xx, cut-off bodies and dropped connections
MAX_RETRY_AFTER = 30.0


class InventoryError(Exception):
    """The platform refused us or kept failing."""


class InventorySync:
    def __init__(self, config: Mapping[str, Any], sink: Any) -> None:
        missing = [k for k in ("base_url", "client_cert", "client_key") if not config.get(k)]
        if missing:
            raise ValueError(
                f"inventory-mtls-sync config is missing {', '.join(missing)} (the platform "
                "authenticates each connection with a TLS client certificate)"
            )
        self.sink = sink
        self._base_url = str(config["base_url"]).rstrip("/")
        self._page_size = max(5, min(int(config.get("page_size") or MAX_PAGE), MAX_PAGE))
        self._streams = [s for s in PATHS if s in set(config.get("streams") or PATHS)]
        self._client = httpx.Client(
            timeout=httpx.Timeout(5.0),
            follow_redirects=False,
            verify=self._tls(config),
            headers={"Accept": "application/json"},
        )
        self._random = random.Random()
        self._sync_id: str | None = None  # the correlation id of the running sync, on every log line
        self._last_request = ""  # "GET /v3/products -> 404": named when a sync fails

    @staticmethod
    def _tls(config: Mapping[str, Any]) -> ssl.SSLContext:
        """Trust the platform's CA (`ca_bundle`, and only it) and present our client certificate."""
        bundle = config.get("ca_bundle")
        context = ssl.create_default_context(cafile=str(bundle) if bundle else None)
        context.load_cert_chain(str(config["client_cert"]), str(config["client_key"]))
        return context

    def _log(self, level: str, message: str, **fields: Any) -> None:
        self.sink.log(level, message, sync_id=self._sync_id, **fields)

    def check(self) -> None:
        """Raise unless the platform accepts our certificate: one small page of the first stream."""
        self._get(PATHS[self._streams[0]], {"page": 1, "per_page": 1})

    def close(self) -> None:
        self._client.close()

    # -- HTTP --------------------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        """One GET: 429 (after Retry-After), 5xx, cut-off bodies and dropped connections retried
        with backoff; any other 4xx and a refused certificate end the call at once."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            request_id = str(uuid.uuid4())
            try:
                response = self._client.get(
                    self._base_url + path, params=params, headers={"X-Request-Id": request_id}
                )
                self._last_request = f"GET {response.request.url.path} -> {response.status_code}"
                self._log("debug", "request", request=self._last_request, request_id=request_id)
                body = response.json() if response.is_success else None
            except httpx.TransportError as exc:
                if _certificate_refused(exc):
                    raise InventoryError(
                        f"GET {path}: the TLS handshake failed on a certificate ({_reason(exc)}); "
                        "check client_cert, client_key and ca_bundle"
                    ) from None
                self._log("warning", "request failed", path=path, error=type(exc).__name__, attempt=attempt)
                self._sleep(self._backoff(attempt))
                continue
            except ValueError:  # a cut-off or garbled body: read the page again
                self._sleep(self._backoff(attempt))
                continue
            if response.status_code == 429:
                self._sleep(self._retry_after(response, attempt))
                continue
            if response.status_code >= 500:
                self._sleep(self._backoff(attempt))
                continue
            if response.status_code >= 400:
                raise InventoryError(f"GET {path} failed with HTTP {response.status_code}")
            return body
        raise InventoryError(f"GET {path} kept failing, giving up after {MAX_ATTEMPTS} attempts")

    def _retry_after(self, response: httpx.Response, attempt: int) -> float:
        try:
            return min(max(float(response.headers["Retry-After"]), 0.0), MAX_RETRY_AFTER)
        except (KeyError, ValueError):
            return self._backoff(attempt)

    def _backoff(self, attempt: int) -> float:
        return min(0.1 * 2**attempt, 5.0) * (0.5 + self._random.random() / 2)

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    # -- paging ------------------------------------------------------------------------------------

    def _page(self, stream: str, page: int, per_page: int, since: str | None) -> tuple[list[Any], bool]:
        """Page `page` at `per_page` records (its offset is (page - 1) * per_page); whether
        `has_more` says another follows."""
        params: dict[str, Any] = {"page": page, "per_page": per_page}
        if since:
            params["modified_since"] = since
        body = self._get(PATHS[stream], params)
        if not isinstance(body, dict):
            raise InventoryError(f"GET {PATHS[stream]} answered something other than a page")
        records = [r for r in body.get("results") or [] if isinstance(r, dict)]
        return records, bool(body.get("has_more"))

    def _shifted(self, stream: str, page: int, since: str | None, before: dict[Any, Any]) -> list[Any]:
        """Records that moved back across the boundary before `page` while it was paging.

        Deleting (or updating) a record before that boundary moves every later record back by
        one, so the first records of `page` slid onto page `page - 1`, already read. They are the
        last records before the boundary that `before` (page `page - 1` as read) does not hold:
        read the tail of page `page - 1` in windows of a fifth of a page (the same offsets, at a
        smaller `per_page`) until one holds a record seen."""
        tail = next(d for d in range(max(self._page_size // 5, 1), 0, -1) if self._page_size % d == 0)
        window = (page - 1) * self._page_size // tail  # the window ending at the boundary
        found: list[Any] = []
        while window >= 1:
            records, _ = self._page(stream, window, tail, since)
            fresh = [r for r in records if r.get(ID[stream]) not in before]
            found = fresh + found
            if len(fresh) < len(records) or not records:
                break
            window -= 1
        return found

    # -- sync --------------------------------------------------------------------------------------

    def sync(self, state: Mapping[str, Any] | None = None) -> None:
        """One sync under a new correlation id; a failure is logged with its cause, then raised."""
        self._sync_id = uuid.uuid4().hex
        try:
            saved = dict((state or {}).get("streams") or {})
            streams = {s: dict(saved.get(s) or {}) for s in self._streams}
            for stream in self._streams:
                self._sync_stream(stream, streams)
            self._log("info", "sync finished")
        except Exception as exc:
            cause = f"{type(exc).__name__}: {exc}"
            self._log("error", "sync failed", error=cause, request=self._last_request)
            raise
        finally:
            self._sync_id = None

    def _sync_stream(self, stream: str, streams: dict[str, dict[str, Any]]) -> None:
        """A pass over every page of a stream, from page 1 of what changed since its mark
        (everything, on a full sync), or from the page a crash interrupted."""
        entry = streams[stream]
        if not entry or entry.get("done"):  # a new pass, from the last one's mark
            entry = {"since": entry.get("mark"), "mark": entry.get("mark"), "page": 1, "last": []}
        since, mark, page = entry.get("since"), entry.get("mark"), int(entry.get("page") or 1)
        # the page before `page` as read: id -> modified_at (a checkpoint carries it as pairs)
        before: dict[Any, Any] = {i: m for i, m in entry.get("last") or ()}
        while True:
            records, more = self._page(stream, page, self._page_size, since)
            if page > 1:
                records = self._shifted(stream, page, since, before) + records
            ids: dict[Any, Any] = {}
            for record in records:
                record_id, stamp = record.get(ID[stream]), record.get("modified_at")
                if record_id in ids or before.get(record_id, ()) == stamp:
                    continue  # the same version read twice (moved onto the next page): stored once
                ids[record_id] = stamp
                self.sink.upsert(stream, record)
                mark = max(mark or stamp, stamp) if isinstance(stamp, str) else mark
            done = not more or not records
            entry = {"since": since, "mark": mark, "page": page + 1, "last": list(ids.items()), "done": done}
            streams[stream] = entry
            self.sink.checkpoint({"streams": streams})
            if done:
                return
            before, page = ids, page + 1


def _certificate_refused(exc: BaseException) -> bool:
    """Whether a transport error is a TLS handshake that failed on a certificate (the platform's
    unverified, or an alert refusing ours), not a dropped connection."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        if isinstance(seen, ssl.SSLError) and "CERTIFICATE" in str(seen.reason or seen).upper():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _reason(exc: BaseException) -> str:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return str(seen.reason or seen)
        seen = seen.__cause__ or seen.__context__
    return type(exc).__name__
