"""INT-01 defect: reads only the first offset page of every list (never asks for `offset=100`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ticketing_sync.connector import TicketingSync


class StopsAtFirstOffsetPage(TicketingSync):
    def _pages(self, stream: str, offset: int, since: str | None) -> Iterator[tuple[list[Any], int, bool]]:
        for records, _following, _last in super()._pages(stream, offset, since):
            yield records, 0, True
            return
