"""Memory defect: keeps a cache entry per sync that nothing ever clears (here 2 MiB a sync, what
caching each sync's responses for a large account costs). Any one sync is small and correct;
a process kept alive by a scheduler grows sync after sync until it is killed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from acme_sync import AcmeSync

PER_SYNC = 2 << 20


class GrowsPerSync(AcmeSync):
    _cache: list[bytes] = []  # class-level, so it outlives the connector object: the leak

    def sync(self, state: Mapping[str, Any] | None = None) -> None:
        super().sync(state)
        self._cache.append(bytes([len(self._cache) % 251 + 1]) * PER_SYNC)  # written, so resident
