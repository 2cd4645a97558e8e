"""INT-01 defect: reads only the first page of every list; `next_cursor` is ignored."""

from __future__ import annotations

from typing import Any

from acme_sync import AcmeSync


class IgnoresNextCursor(AcmeSync):
    def _next_cursor(self, page: dict[str, Any]) -> str | None:
        return None
