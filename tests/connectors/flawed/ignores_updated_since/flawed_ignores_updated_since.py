"""INT-02 defect: an incremental sync never sends `updated_since`, so it reads every list again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ticketing_sync.connector import TicketingSync


class IgnoresUpdatedSince(TicketingSync):
    def _pages(self, stream: str, offset: int, since: str | None) -> Iterator[tuple[list[Any], int, bool]]:
        return super()._pages(stream, offset, None)
