"""Records of nested collections belong to a parent: the tenant's overlay, scoped.

A record of `/Accounts/{AccountSid}/Queues` or `/repos/{owner}/{repo}/issues` is listed and
read under its own parent only; under any other it is not there (404 on read). A record
created through the API belongs to the parent its path named. A seed record belongs to one of
a few parents, by its index: where the parent is itself a collection (the one whose item path
the nested list path begins with: `/Accounts/{Sid}.json`, `/repos/{owner}/{repo}`), those are
the first few of its seed records, so the parent a client finds by listing has children; where
no collection names the parent, seed records are under every parent (the client has no way to
find a "right" one).

Placement is a pure function of the dataset, and a created record's parent travels in the
change log with the record, so every store (and every replica of a shared one) agrees.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from harness.contract import Collection
from harness.contract.collections import parent_collection
from harness.synth import Dataset, Overlay
from harness.synth.overlay import START, Key

Scope = tuple[str, ...]
PARENTS_PER_COLLECTION = 3  # seed records of a nested collection are spread over this many parents


def dig(record: Any, dotted: str) -> Any:
    """`record["owner"]["login"]` for `owner.login`; None where a step is missing."""
    for step in dotted.split("."):
        if not isinstance(record, dict):
            return None
        record = record.get(step)
    return record


class Placement:
    """Which parent each seed record of a nested collection belongs to: seed `i` under the
    `i % n`-th of its slots, each slot the path values of one of the parent's first seed records
    (the parent's own placement first, for a parent that is itself nested)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self._slots: dict[str, list[Scope] | None] = {}

    def slots(self, collection: str) -> list[Scope] | None:
        """The parents seed records are spread over; None: seed records are under every parent."""
        if collection not in self._slots:
            self._slots[collection] = None  # a cycle of parents places nothing
            self._slots[collection] = self._make(collection)
        return self._slots[collection]

    def of(self, collection: str, index: int) -> Scope | None:
        slots = self.slots(collection)
        return slots[index % len(slots)] if slots else None

    def _make(self, collection: str) -> list[Scope] | None:
        cols = self.dataset.collections
        col = cols[collection]
        parent = parent_collection(cols, col)
        if parent is None:
            return None
        out: list[Scope] = []
        # distinct parents: records whose path values collide (an edge profile's longest string
        # as two repositories' owner and name) name one parent, listed once
        for index in range(min(PARENTS_PER_COLLECTION * 4, self.dataset.size(parent.name))):
            values = self._path_of(parent, index)
            if values is None or len(values) != len(col.parent_params):
                return None
            if values not in out:
                out.append(values)
            if len(out) == PARENTS_PER_COLLECTION:
                break
        return out or None

    def _path_of(self, parent: Collection, index: int) -> Scope | None:
        """The item path values that name seed record `index` of `parent`."""
        record = self.dataset.record(parent.name, index)
        if parent.key_fields:
            keys = [dig(record, name) for _, name in parent.key_fields]
            return None if any(k is None for k in keys) else tuple(str(k) for k in keys)
        own: Scope | None = self.of(parent.name, index) if parent.parent_params else ()
        record_id = record.get(parent.id_field)
        return None if own is None or record_id is None else (*own, str(record_id))


class ScopedOverlay(Overlay):
    """The overlay, with each record's parent: placed by `Placement` for seed records, by the
    path for records created under one."""

    def __init__(self, dataset: Dataset) -> None:
        super().__init__(dataset)
        self.placement = Placement(dataset)
        self._parents: dict[str, dict[Any, Scope]] = {name: {} for name in dataset.collections}
        self._placing: Scope | None = None

    # -- writing ----------------------------------------------------------------------------------

    def create(
        self, collection: str, fields: Mapping[str, Any] | None = None, parent: Scope | None = None
    ) -> dict[str, Any]:
        """A record, created under `parent` (the path values of its parent parameters)."""
        with self._placed(parent):
            return super().create(collection, fields)

    def adopt(
        self, collection: str, record: Mapping[str, Any], parent: Scope | None = None
    ) -> dict[str, Any]:
        """`adopt`, under `parent` (the path values of its parent parameters)."""
        with self._placed(parent):
            return super().adopt(collection, record)

    @contextmanager
    def _placed(self, parent: Scope | None) -> Iterator[None]:
        """The created change logged inside belongs to `parent` (`_log` reads it)."""
        with self._lock:
            self._placing = tuple(parent) if parent is not None else None
            try:
                yield
            finally:
                self._placing = None

    def churn(self, n: int, *, seed: int, collections: list[str] | None = None) -> list[Any]:
        """`churn`, leaving the records that hold placed children alone: renaming or deleting
        one would strand its children (kept, but under a parent no client can list any more)."""
        if collections is None:
            held = {self.parents_of(c) for c in self.dataset.collections} - {None}
            collections = [c for c in self.dataset.collections if c not in held] or None
        return super().churn(n, seed=seed, collections=collections)

    def parents_of(self, collection: str) -> str | None:
        """The parent collection `collection`'s seed records are placed under (None: under every
        parent, or not nested)."""
        col = self.dataset.collections[collection]
        parent = parent_collection(self.dataset.collections, col)
        return parent.name if parent is not None and self.placement.slots(collection) else None

    def _log(
        self, collection: str, kind: str, record_id: Any, record: dict[str, Any] | None, now: datetime
    ) -> Any:
        self._place(collection, kind, record_id, self._placing)
        return super()._log(collection, kind, record_id, record, now)

    def _place(self, collection: str, kind: str, record_id: Any, parent: Scope | None) -> None:
        if kind == "created" and parent is not None:
            self._parents[collection][record_id] = parent

    # -- reading ----------------------------------------------------------------------------------

    def parent_of(self, collection: str, record_id: Any) -> Scope | None:
        """The parent a record belongs to; None: it is found under every parent."""
        return self._scope_of(collection, record_id)

    def _scope_of(self, collection: str, record_id: Any) -> Scope | None:
        placed = self._parents[collection].get(record_id)
        if placed is not None:
            return placed
        index = self.dataset.index_of(collection, record_id)
        return self.placement.of(collection, index) if index is not None else None

    def nested(self, collection: str) -> bool:
        return bool(self.dataset.collections[collection].parent_params)

    def scoped_page(
        self,
        collection: str,
        scope: Scope,
        after: Key = START,
        limit: int = 50,
        since: datetime | None = None,
    ) -> tuple[list[dict[str, Any]], Key | None]:
        """`page`, of the records under `scope` only."""
        if not self.nested(collection):
            return self.page(collection, after, limit, since)
        out: list[dict[str, Any]] = []
        last: Key | None = None
        for key, record in self._within(collection, scope, after, since):
            if len(out) == limit:
                return out, last
            out.append(record)
            last = key
        return out, None

    def scoped_key_at(self, collection: str, scope: Scope, offset: int, since: datetime | None = None) -> Key:
        """`key_at`, counting the records under `scope` only."""
        if not self.nested(collection):
            return self.key_at(collection, offset, since)
        if offset <= 0:
            return START
        for seen, (key, _) in enumerate(self._within(collection, scope, START, since), start=1):
            if seen == offset:
                return key
        return (1, 1 << 62)

    def key_before(
        self, collection: str, scope: Scope, key: Key, count: int, since: datetime | None = None
    ) -> Key | None:
        """Where the page of `count` records ending at `key` starts (the key before its first
        record, START for the first page); None when `key` is the very start."""
        if key == START:
            return None
        if not self.nested(collection):
            scope = ()
        kept: deque[Key] = deque(maxlen=count + 1)
        for found, _ in self._within(collection, scope, START, since, keys_only=True):
            if found > key:
                break
            kept.append(found)
        return kept[0] if len(kept) == count + 1 else START

    def scoped_count(self, collection: str, scope: Scope, since: datetime | None = None) -> int:
        """`count`, of the records under `scope` only (arithmetic over the seed records)."""
        if not self.nested(collection):
            return self.count(collection, since)
        state = self._state[collection]
        start = self._base_start(collection, since)
        size = self.dataset.size(collection)
        slots = self.placement.slots(collection)
        with self._lock:
            if slots is None:
                base = size - start - (len(state.touched) - _bisect(state.touched, start))
            elif scope in slots:
                n, j = len(slots), slots.index(scope)
                base = _congruent(start, size, n, j)
                base -= sum(1 for i in state.touched if i >= start and i % n == j)
            else:
                base = 0
            changed = sum(
                1
                for rid in state.order
                if self._changed_at(collection, rid, since)
                and self._scope_of(collection, rid) in (None, scope)
            )
        return base + changed

    def _within(
        self, collection: str, scope: Scope, after: Key, since: datetime | None, keys_only: bool = False
    ) -> Iterator[tuple[Key, Any]]:
        """Keys (and records) in list order of the records under `scope`, made only if kept."""
        slots = self.placement.slots(collection)
        if after[0] == 0 and slots is not None and scope not in slots:
            after = (1, 0)  # no seed record is under this parent: skip them without a look
        wanted: Callable[[int], bool]
        if slots is None or scope not in slots:
            wanted = _always
        else:
            n, j = len(slots), slots.index(scope)

            def wanted(index: int) -> bool:
                return index % n == j

        id_field = self.dataset.collections[collection].id_field
        for key, make in self._iterate(collection, after, since):
            if key[0] == 0:
                if wanted(key[1]):
                    yield key, None if keys_only else make()
                continue
            record = make()
            if self._scope_of(collection, record.get(id_field)) in (None, scope):
                yield key, record


def _always(index: int) -> bool:
    return True


def _bisect(items: list[int], value: int) -> int:
    import bisect

    return bisect.bisect_left(items, value)


def _congruent(start: int, stop: int, n: int, j: int) -> int:
    """How many i in [start, stop) have i % n == j."""

    def below(limit: int) -> int:  # i in [0, limit) with i % n == j
        return 0 if limit <= j else (limit - 1 - j) // n + 1

    return max(below(stop) - below(start), 0)
