"""PERF-01 defect: sleeps a fifth of a second before every next page "to be nice to the API", so
under a rate limit of 20 requests/s it uses about a quarter of the requests its budget allows.

A fifth, not a whole second: the defect is the same (a pause before every page, which no stall
forgiveness covers), and the large account of PERF-02 (120 pages) still syncs well inside that
check's time limit, so this connector fails PERF-01 alone and its test waits seconds, not a minute.
"""

from __future__ import annotations

import time
from typing import Any

from acme_sync import AcmeSync


class SleepsBetweenPages(AcmeSync):
    def _list_params(self, cursor: str | None) -> dict[str, Any]:
        if cursor:
            time.sleep(0.2)
        return super()._list_params(cursor)
