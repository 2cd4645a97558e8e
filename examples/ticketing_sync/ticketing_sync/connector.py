"""The reference connector for the ticketing-like platform: offset paging, the API key in the
query (`api_key`, the config's `client_secret`), incremental syncs by `updated_since`.

Offset paging loses records when records before the offset are deleted while it pages (each
deletion moves a record to a page already read), so pages overlap by OVERLAP records and each
pass stores a record once. An incremental sync asks each list for what changed since the
latest `updated_at` the platform held when the last pass began (taken before paging, so a change
made while it paged is read again next time). Deletions cannot be seen this way (the platform has no
change feed); a full sync (`sync(None)`) removes nothing either, it starts a fresh replica.
"""

from __future__ import annotations

import logging
import random
import ssl
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

PATHS = {"tickets": "/tickets", "users": "/users"}
MAX_PAGE = 100  # the contract's maximum `limit`
OVERLAP = 20  # records each page re-reads of the one before: room for deletions while paging
MAX_ATTEMPTS = 6
MAX_RETRY_AFTER = 30.0
log = logging.getLogger("ticketing_sync")  # the host's logging; the harness keeps records with their extras


class TicketingError(Exception):
    """The platform refused us or kept failing; the message never holds the key."""


class TicketingSync:
    def __init__(self, config: Mapping[str, Any], sink: Any) -> None:
        missing = [k for k in ("base_url", "client_secret") if not config.get(k)]
        if missing:
            raise ValueError(f"ticketing-sync config is missing {', '.join(missing)}")
        self.sink = sink
        self._base_url = str(config["base_url"]).rstrip("/")
        self._key = str(config["client_secret"])
        self._page = max(OVERLAP + 1, min(int(config.get("page_size") or MAX_PAGE), MAX_PAGE))
        self._streams = [s for s in PATHS if s in set(config.get("streams") or PATHS)]
        verify: Any = config.get("ca_bundle") or True
        self._client = httpx.Client(timeout=httpx.Timeout(5.0), follow_redirects=False, verify=verify)
        self._random = random.Random()
        self._sync_id: str | None = None  # the correlation id of the running sync, on every log line

    def _log(self, level: int, message: str, **fields: Any) -> None:
        log.log(level, message, extra={"sync_id": self._sync_id, **fields})

    def check(self) -> None:
        """Raise unless the platform accepts the key."""
        self._get(PATHS[self._streams[0]], {"limit": 1})

    def close(self) -> None:
        self._client.close()

    # -- HTTP --------------------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        """GET with the key in the query; 429, 5xx and dropped connections retried with backoff."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            request_id = str(uuid.uuid4())
            try:
                response = self._client.get(
                    self._base_url + path,
                    params={**params, "api_key": self._key},
                    headers={"X-Request-Id": request_id},
                )
            except httpx.TransportError as exc:
                if _certificate_refused(exc):
                    raise TicketingError(
                        f"GET {path}: the platform's TLS certificate failed verification"
                    ) from None
                self._sleep(self._backoff(attempt))
                continue
            self._log(logging.INFO, "request", path=path, status=response.status_code, request_id=request_id)
            if response.status_code == 429:
                self._sleep(self._retry_after(response, attempt))
                continue
            if response.status_code >= 500:
                self._sleep(self._backoff(attempt))
                continue
            if response.status_code >= 400:
                raise TicketingError(f"GET {path} failed with HTTP {response.status_code}")
            try:
                return response.json()
            except ValueError:
                self._sleep(self._backoff(attempt))
        raise TicketingError(f"GET {path} kept failing, giving up")

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

    def _pages(self, stream: str, offset: int, since: str | None) -> Iterator[tuple[list[Any], int, bool]]:
        """(records, the offset to resume at, whether it was the last page) for each page from
        `offset`; pages overlap by OVERLAP records."""
        while True:
            params: dict[str, Any] = {"limit": self._page, "offset": offset}
            if since:
                params["updated_since"] = since
            page = self._get(PATHS[stream], params)
            records = list(page.get("data") or [])
            total = page.get("total")
            last = len(records) < self._page or (isinstance(total, int) and offset + len(records) >= total)
            following = offset + max(len(records) - OVERLAP, 1)
            yield records, following, last or not records
            if last or not records:
                return
            offset = following

    def _latest(self, stream: str, since: str | None) -> str | None:
        """The latest `updated_at` on the platform now: the last record of the list, which is
        ordered least recently updated first. Whatever changes from now on is updated at or
        after it, so the next pass asks `updated_since` it (the filter is inclusive)."""
        params: dict[str, Any] = {"limit": 1, "offset": 0, **({"updated_since": since} if since else {})}
        total = self._get(PATHS[stream], params).get("total")
        if not isinstance(total, int) or total < 1:
            return since
        records = self._get(PATHS[stream], {**params, "offset": total - 1}).get("data") or []
        updated = records[-1].get("updated_at") if records else None
        return updated if isinstance(updated, str) else since

    # -- sync --------------------------------------------------------------------------------------

    def sync(self, state: Mapping[str, Any] | None = None) -> None:
        """One sync under a new correlation id; a failure is logged with its cause, then raised."""
        self._sync_id = uuid.uuid4().hex
        try:
            self._sync(state)
            self._log(logging.INFO, "sync finished")
        except Exception as exc:
            self._log(logging.ERROR, "sync failed", error=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            self._sync_id = None

    def _sync(self, state: Mapping[str, Any] | None) -> None:
        """A full sync when `state` is None; else, per stream, what changed since its mark, or
        the rest of a pass a crash interrupted (from the offset it checkpointed)."""
        saved = dict((state or {}).get("streams") or {})
        streams = {s: dict(saved.get(s) or {}) for s in self._streams}
        for stream in self._streams:
            self._sync_stream(stream, streams)

    def _sync_stream(self, stream: str, streams: dict[str, dict[str, Any]]) -> None:
        entry = streams[stream]
        if entry.get("done", True) is True and "mark" in entry:  # a finished pass: start the next
            entry = {"since": entry["mark"], "mark": entry["mark"], "offset": 0, "done": False}
        elif not entry:
            entry = {"since": None, "mark": None, "offset": 0, "done": False}
        seen: set[Any] = set()
        if not entry.get("offset"):  # a pass starts: the mark for the next one is taken now, before paging
            entry = {**entry, "mark": self._latest(stream, entry.get("since")) or entry.get("mark")}
        mark = entry.get("mark")
        for records, following, last in self._pages(
            stream, int(entry.get("offset") or 0), entry.get("since")
        ):
            for record in records:
                if record.get("id") in seen:
                    continue
                seen.add(record.get("id"))
                self.sink.upsert(stream, record)
            entry = {**entry, "offset": 0 if last else following, "mark": mark, "done": last}
            streams[stream] = entry
            self.sink.checkpoint({"streams": streams})


def _certificate_refused(exc: BaseException) -> bool:
    """Whether a transport error is a TLS handshake that failed on the platform's certificate: no
    retry will change it, so it fails the sync at once instead of after every backoff."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
