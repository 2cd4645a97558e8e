"""PERF-02 defect: reads every page of a list into memory before handing any record to the sink,
so its memory grows with the size of the account instead of staying at one page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from acme_sync import AcmeSync


class HoldsEveryPage(AcmeSync):
    def _pages(self, path: str, cursor: str | None = None) -> Iterator[tuple[list[Any], str | None]]:
        return iter(list(super()._pages(path, cursor)))
