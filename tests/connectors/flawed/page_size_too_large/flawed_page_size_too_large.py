"""CON-01 defect: asks for 1,000 records a page although the contract allows at most 200,
and falls back to its configured page size when the platform refuses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from acme_sync import AcmeSync, PlatformError


class PageSizeTooLarge(AcmeSync):
    def _pages(self, path: str, cursor: str | None = None) -> Iterator[tuple[list[Any], str | None]]:
        try:
            page = self._api("GET", path, params={"limit": 1000})
        except PlatformError:
            yield from super()._pages(path, cursor)
            return
        yield self._records(page), None
