"""A bounded cache of generated records, shared by every dataset of a sandbox.

Making a record costs 50-100 times more than serving it, and connectors read the same pages
again (retries, resumed syncs, several checks on one tenant). The bound keeps memory flat
however many tenants or records there are; cached records are shared, so treat them as
read-only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

DEFAULT_SIZE = 20_000  # records: about 30 MB of contact-like records


class RecordCache:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: tuple[Any, ...]) -> dict[str, Any] | None:
        with self._lock:
            record = self._items.get(key)
            if record is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return record

    def get_many(self, keys: list[tuple[Any, ...]]) -> list[dict[str, Any] | None]:
        """Several records under one lock (a page's worth); a miss is counted by `get` later."""
        out: list[dict[str, Any] | None] = []
        with self._lock:
            items = self._items
            for key in keys:
                record = items.get(key)
                if record is not None:
                    items.move_to_end(key)
                    self.hits += 1
                out.append(record)
        return out

    def put(self, key: tuple[Any, ...], record: dict[str, Any]) -> None:
        with self._lock:
            self._items[key] = record
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
