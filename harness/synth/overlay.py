"""Writes on top of a virtual dataset, with an ordered change log.

The base dataset never changes; creates, updates and deletes live here, and each is a `Change`
with a sequence number and a time from the overlay's own clock (which ticks one second per
change, so change order and time order agree).

Lists are ordered by *last change*: base records in index order (they changed in that order
before the clock started), then changed and created records by sequence. A position in that
order is a `Key`; paging from a key is stable while data changes: a record that changes moves to
the end and is seen again, one deleted disappears, and nothing is skipped.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import math
import random
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from harness.core.changes import CREATED_NAMES
from harness.synth.dataset import Dataset
from harness.synth.errors import SynthError

Key = tuple[int, int]  # (0, base index) or (1, change sequence)
START: Key = (0, -1)


@dataclass(frozen=True)
class Change:
    seq: int
    time: datetime
    type: str  # created | updated | deleted, or a kind a next contract version adds (announce)
    collection: str
    id: Any
    record: dict[str, Any] | None  # after the change; None for deletions


@dataclass
class _Collection:
    live: dict[Any, dict[str, Any]] = field(default_factory=dict)  # changed or created, by id
    order: dict[Any, int] = field(default_factory=dict)  # id -> seq of its last change, in seq order
    touched: list[int] = field(default_factory=list)  # sorted base indices changed or deleted
    created: int = 0


class Overlay:
    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.clock = dataset.clock
        self.changes: list[Change] = []
        self.listeners: list[Callable[[Change], None]] = []  # told of every change (webhooks, audit)
        self._state = {name: _Collection() for name in dataset.collections}
        self._lock = threading.RLock()

    # -- reading ----------------------------------------------------------------------------------

    def get(self, collection: str, record_id: Any) -> dict[str, Any] | None:
        state = self._state[collection]
        with self._lock:
            if record_id in state.live:
                return dict(state.live[record_id])
            index = self.dataset.index_of(collection, record_id)
            if index is None or self._is_touched(state, index):
                return None
        return self.dataset.record(collection, index)

    def count(self, collection: str, since: datetime | None = None) -> int:
        state = self._state[collection]
        start = self._base_start(collection, since)
        with self._lock:
            touched = len(state.touched) - bisect.bisect_left(state.touched, start)
            changed = sum(1 for rid in state.order if self._changed_at(collection, rid, since))
        return self.dataset.size(collection) - start - touched + changed

    def page(
        self, collection: str, after: Key = START, limit: int = 50, since: datetime | None = None
    ) -> tuple[list[dict[str, Any]], Key | None]:
        """Up to `limit` live records after `after`; the key of the last one if more may follow."""
        if after[0] == 0:
            within = self._base_page(collection, after[1], limit, since)
            if within is not None:
                return within
        out: list[dict[str, Any]] = []
        last: Key | None = None
        for key, record in self._iterate(collection, after, since):
            if len(out) == limit:  # one more exists; it was not generated (records come lazily)
                return out, last
            out.append(record())
            last = key
        return out, None

    def _base_page(
        self, collection: str, after: int, limit: int, since: datetime | None
    ) -> tuple[list[dict[str, Any]], Key] | None:
        """The common page, one that ends inside the base records: its keys found under one lock
        (no generator per record). None when it reaches the records written since."""
        state = self._state[collection]
        size = self.dataset.size(collection)
        index = max(after + 1, self._base_start(collection, since))
        keys: list[int] = []
        with self._lock:
            while index < size and len(keys) <= limit:
                if not state.touched or not self._is_touched(state, index):
                    keys.append(index)
                index += 1
        if len(keys) <= limit:
            return None
        return self.dataset.records_at(collection, keys[:limit]), (0, keys[limit - 1])

    def key_at(self, collection: str, offset: int, since: datetime | None = None) -> Key:
        """The key just before the `offset`-th live record (for offset and page paging)."""
        if offset <= 0:
            return START
        state = self._state[collection]
        start = self._base_start(collection, since)
        size = self.dataset.size(collection)
        with self._lock:
            index = start + offset - 1
            while True:  # the offset-th untouched base index at or after `start`
                skipped = bisect.bisect_right(state.touched, index) - bisect.bisect_left(state.touched, start)
                candidate = start + offset - 1 + skipped
                if candidate == index:
                    break
                index = candidate
            if index < size:
                return (0, index)
            remaining = index - size
            ordered = [seq for rid, seq in state.order.items() if self._changed_at(collection, rid, since)]
        if remaining < len(ordered):
            return (1, ordered[remaining])
        return (1, 1 << 62)

    def key_of(self, collection: str, record_id: Any) -> Key | None:
        """The paging key of a live record (for id cursors such as `starting_after`), or None."""
        state = self._state[collection]
        with self._lock:
            if record_id in state.order:
                return (1, state.order[record_id]) if record_id in state.live else None
            index = self.dataset.index_of(collection, record_id)
            if index is None or self._is_touched(state, index):
                return None
        return (0, index)

    def writing(self) -> contextlib.AbstractContextManager[Any]:
        """Held around a write and what its listeners do (its audit entry): one writer per tenant.
        In one process that is the overlay's own lock, which every write holds; a shared store
        locks across replicas."""
        return self._lock

    def version(self) -> tuple[int, datetime] | None:
        """What every read depends on besides its arguments: the change log's length (each write
        appends to it) and the clock. Equal versions read alike, so what was read may be kept
        (harness.sandbox.pages); None where writes may land unseen (another process's)."""
        return (len(self.changes), self.clock)

    def changes_since(self, seq: int = 0, limit: int | None = None) -> list[Change]:
        with self._lock:
            start = bisect.bisect_right([c.seq for c in self.changes], seq)
            return self.changes[start : None if limit is None else start + limit]

    # -- writing ----------------------------------------------------------------------------------

    def create(self, collection: str, fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
        col = self.dataset.collections[collection]
        state = self._state[collection]
        with self._lock:
            index = self.next_index(collection)
            record = self.dataset.make(collection, index)
            if record is None:
                raise SynthError(
                    col.item_schema_uri.partition("#")[2],
                    f"no room for another {collection} id",
                    "use an id pattern with more room",
                )
            record.update(fields or {})
            record[col.id_field] = self.dataset.id_of(collection, index)
            state.created += 1
            now = self._tick()
            for name in CREATED_NAMES:
                if name in record:
                    record[name] = self.dataset.stamp(collection, name, now)
            return self._store(collection, "created", record, now)

    def next_index(self, collection: str) -> int:
        """The index the next create takes: past the creates so far, and past any id a record
        was adopted under (`adopt`), so a create never lands on one. Replaying a create (the
        Redis store) steps the same way, so every replica agrees."""
        state = self._state[collection]
        size = self.dataset.size(collection)
        while state.live and self.dataset.id_of(collection, size + state.created) in state.live:
            state.created += 1
        return size + state.created

    def adopt(self, collection: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """Keep a record made for an id the tenant had no record for (a sandbox's lenient ids,
        stripe-mock's way): a created change under that id, which takes no index from creates."""
        with self._lock:
            return self._store(collection, "created", dict(record), self._tick())

    def update(self, collection: str, record_id: Any, fields: Mapping[str, Any]) -> dict[str, Any] | None:
        col = self.dataset.collections[collection]
        with self._lock:
            current = self.get(collection, record_id)
            if current is None:
                return None
            record = {**current, **fields, col.id_field: current[col.id_field]}
            return self._store(collection, "updated", record, self._tick())

    def announce(self, collection: str, record_id: Any, kind: str) -> Change | None:
        """Log a change of a new `kind` about a record (a platform's next version says more
        about its records, `contact.merged`) without changing it: the record as it stands."""
        with self._lock:
            current = self.get(collection, record_id)
            if current is None:
                return None
            return self._log(collection, kind, record_id, dict(current), self._tick())

    def delete(self, collection: str, record_id: Any) -> bool:
        state = self._state[collection]
        with self._lock:
            if self.get(collection, record_id) is None:
                return False
            state.live.pop(record_id, None)
            state.order.pop(record_id, None)
            self._touch(collection, record_id)
            self._log(collection, "deleted", record_id, None, self._tick())
            return True

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward (tokens and timestamps of later changes follow it)."""
        with self._lock:  # whole seconds, like the timestamps records carry
            self.clock += timedelta(seconds=math.ceil(seconds))
            return self.clock

    def churn(self, n: int, *, seed: int, collections: list[str] | None = None) -> list[Change]:
        """Apply n seeded random creates, updates and deletes (the sandbox's 'data changes while
        you page' fault). The same seed on the same data makes the same changes."""
        names = collections or [c for c in self.dataset.collections if self.count(c) or True]
        rng = random.Random(
            int.from_bytes(
                hashlib.blake2b(f"{seed}:churn:{len(self.changes)}".encode(), digest_size=8).digest(), "big"
            )
        )
        made: list[Change] = []
        for _ in range(n):
            collection = rng.choice(names)
            action = rng.choice(("create", "update", "delete"))
            target = self._random_live_id(collection, rng)
            if action == "create" or target is None:
                self.create(collection)
            elif action == "update":
                self.update(collection, target, self._fresh_fields(collection, rng))
            else:
                self.delete(collection, target)
            made.append(self.changes[-1])
        return made

    # -- internals --------------------------------------------------------------------------------

    def _iterate(
        self, collection: str, after: Key, since: datetime | None
    ) -> Iterator[tuple[Key, Callable[[], dict[str, Any]]]]:
        """Keys in list order, each with a function that makes its record (so peeking is free)."""
        state = self._state[collection]
        size = self.dataset.size(collection)
        if after[0] == 0:
            index = max(after[1] + 1, self._base_start(collection, since))
            while index < size:
                with self._lock:
                    touched = self._is_touched(state, index)
                if not touched:
                    yield (0, index), partial(self.dataset.record, collection, index)
                index += 1
            after = (1, 0)
        with self._lock:
            tail = [
                (seq, dict(state.live[rid]))
                for rid, seq in state.order.items()
                if seq > after[1] and self._changed_at(collection, rid, since)
            ]
        for seq, record in tail:
            yield (1, seq), partial(dict, record)

    def _store(self, collection: str, kind: str, record: dict[str, Any], now: datetime) -> dict[str, Any]:
        col = self.dataset.collections[collection]
        state = self._state[collection]
        record_id = record[col.id_field]
        if col.updated_field and col.updated_field in record:
            record[col.updated_field] = self.dataset.stamp(collection, col.updated_field, now)
        state.live[record_id] = record
        state.order.pop(record_id, None)
        self._touch(collection, record_id)
        change = self._log(collection, kind, record_id, dict(record), now)
        state.order[record_id] = change.seq
        return dict(record)

    def _log(
        self, collection: str, kind: str, record_id: Any, record: dict[str, Any] | None, now: datetime
    ) -> Change:
        change = Change(len(self.changes) + 1, now, kind, collection, record_id, record)
        self.changes.append(change)
        for listener in self.listeners:
            listener(change)
        return change

    def _touch(self, collection: str, record_id: Any) -> None:
        index = self.dataset.index_of(collection, record_id)
        state = self._state[collection]
        if index is not None and not self._is_touched(state, index):
            bisect.insort(state.touched, index)

    @staticmethod
    def _is_touched(state: _Collection, index: int) -> bool:
        found = bisect.bisect_left(state.touched, index)
        return found < len(state.touched) and state.touched[found] == index

    def _tick(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock

    def _base_start(self, collection: str, since: datetime | None) -> int:
        return self.dataset.first_changed_since(collection, since) if since else 0

    def _changed_at(self, collection: str, record_id: Any, since: datetime | None) -> bool:
        if since is None:
            return True
        seq = self._state[collection].order[record_id]
        return self.changes[seq - 1].time >= since

    def _random_live_id(self, collection: str, rng: random.Random) -> Any:
        state = self._state[collection]
        size = self.dataset.size(collection)
        for _ in range(8):
            if state.live and (not size or rng.random() < len(state.live) / (len(state.live) + size)):
                return rng.choice(list(state.live))
            if size:
                index = rng.randrange(size)
                if not self._is_touched(state, index):
                    return self.dataset.id_of(collection, index)
        return None

    def _fresh_fields(self, collection: str, rng: random.Random) -> dict[str, Any]:
        """New values for a few fields, taken from a record made with another seed."""
        col = self.dataset.collections[collection]
        donor = self.dataset.make(collection, rng.randrange(1 << 30), seed_salt="churn") or {}
        keep = {col.id_field, col.updated_field, *CREATED_NAMES}
        names = [k for k in donor if k not in keep]
        chosen = rng.sample(names, k=min(len(names), rng.randint(1, 3)))
        return {k: donor[k] for k in chosen}
