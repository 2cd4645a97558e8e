"""RES-02 defect: after a request had to be retried it flushes its page buffer again, so the page
stored before the failure reaches the sink twice. Upserts by id hide it in the final replica; an
append-only destination gets every record of that page twice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from acme_sync import AcmeSync

Page = tuple[list[dict[str, Any]], str | None]


class StoresRetriedPageTwice(AcmeSync):
    _retried = False

    def _sleep(self, seconds: float) -> None:
        self._retried = True  # only a retry sleeps
        super()._sleep(seconds)

    def _pages(self, path: str, cursor: str | None = None) -> Iterator[Page]:
        last: Page | None = None
        self._retried = False
        for page in super()._pages(path, cursor):
            if self._retried and last is not None:
                yield last  # the buffer of the page before the failure, flushed again
            self._retried = False
            last = page
            yield page
