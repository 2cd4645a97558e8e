"""PERF-01 defect: sleeps a second before every next page "to be nice to the API", so under a
rate limit it uses a small fraction of the requests its budget allows."""

from __future__ import annotations

import time
from typing import Any

from acme_sync import AcmeSync


class SleepsBetweenPages(AcmeSync):
    def _list_params(self, cursor: str | None) -> dict[str, Any]:
        if cursor:
            time.sleep(1.0)
        return super()._list_params(cursor)
