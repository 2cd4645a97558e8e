"""A virtual dataset: record i of a collection is a pure function of (seed, collection, i).

Nothing is stored. A million-record tenant costs nothing until a page is read, and any page can
be made without making the pages before it. The base records are ordered by their updated-at
time (record i changed before record i+1), so "changed since T" is a binary search.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from faker import Faker

from harness.contract import Collection, Contract
from harness.synth.cache import RecordCache
from harness.synth.errors import SynthError
from harness.synth.generator import Builder, Compiler, Ctx, Infinite, rfc3339
from harness.synth.ids import Codec, codec_for_schema, short_digits
from harness.synth.pools import PooledFaker
from harness.synth.untidy import Plan, plan_for, untidy

DEFAULT_CLOCK = datetime(2026, 1, 1, tzinfo=UTC)
_CTX_ARGS = (
    "fake",
    "index",
    "created",
    "updated",
    "window_start",
    "null_share",
    "ids",
    "sizes",
    "edge",
    "updated_field",
)
DEFAULT_WINDOW = timedelta(days=365)


class Dataset:
    def __init__(
        self,
        contract: Contract,
        *,
        seed: int = 0,
        sizes: Mapping[str, int] | None = None,
        clock: datetime = DEFAULT_CLOCK,
        window: timedelta = DEFAULT_WINDOW,
        null_share: float = 0.1,
        locale: str = "en_US",
        edge: float = 0.0,
        cache: RecordCache | None = None,
        adversarial: bool = True,
    ) -> None:
        self.contract = contract
        self.adversarial = adversarial  # records shaped every way the contract allows (synth.untidy)
        self.seed = seed
        self.clock = clock
        self.window = window
        self.null_share = null_share
        self.edge = edge  # share of values pushed to extremes (the "edge" profile)
        self.cache = cache  # shared with other datasets; keyed by this dataset's identity
        self._cache_key = object()
        self.collections: dict[str, Collection] = dict(contract.collections)
        unknown = set(sizes or {}) - set(self.collections)
        if unknown:
            raise SynthError(
                "",
                f"no collection named {sorted(unknown)} in {contract.file}",
                f"use one of {sorted(self.collections)}",
            )
        self.sizes = {name: int((sizes or {}).get(name, 0)) for name in self.collections}
        self._codecs: dict[str, Codec | None] = {}
        relations: dict[str, str] = {}
        for name, col in self.collections.items():
            codec = id_codec(contract, col, seed, adversarial=adversarial)
            self._codecs[name] = codec
            if codec is not None:
                if self.sizes[name] > codec.capacity:
                    raise SynthError(
                        col.item_schema_uri.partition("#")[2],
                        f"{self.sizes[name]} {name} do not fit the id space of {col.id_field} "
                        f"({_id_space(col)} has room for {codec.capacity})",
                        f"ask for at most {codec.capacity} (harness.synth.fit_sizes) or widen the pattern",
                    )
                if codec.prefix:
                    relations[codec.prefix] = name
        self._time_kinds: dict[tuple[str, str], str] = {}
        # a plan is read off the contract alone: one per collection for every tenant, not per dataset
        self._plans: dict[str, Plan] = contract.__dict__.setdefault("_untidy_plans", {})
        # Builders, Faker and its lock are shared by every dataset of this contract and locale:
        # each record reseeds the generator, so sharing changes no value, and an idle tenant
        # costs a few hundred bytes instead of a compiled copy of the contract.
        shared = contract.__dict__.setdefault("_synth_compiled", {})
        key = (locale, tuple(sorted(relations.items())))
        compiled = shared.get(key)
        fresh = compiled is None
        if compiled is None:
            # The locale's Generator itself, not the Faker proxy: every provider call skips a lookup.
            fake = PooledFaker(Faker(locale, use_weighting=False)._factories[0], locale)
            # records are what the platform answers with: compiled from the answers' view (no writeOnly)
            compiler = Compiler(contract.for_answers, fake, relations, None)  # type: ignore[arg-type]  # one memo for all collections
            builders = {
                n: compiler.compile({"$ref": c.item_schema_uri}, c.item_schema_uri)
                for n, c in self.collections.items()
            }
            compiled = (fake, builders, threading.Lock())
        self._builders: dict[str, Builder]
        self._fake, self._builders, self._lock = compiled
        if fresh:
            for name in self.collections:  # a schema whose every value is endless fails here, not mid-sync
                self.make(name, 0)
            shared[key] = compiled

    # -- identity -------------------------------------------------------------------------------

    def size(self, collection: str) -> int:
        return self.sizes[collection]

    def id_of(self, collection: str, index: int) -> Any:
        codec = self._codecs[collection]
        if codec is not None:
            return codec.encode(index)
        return f"{collection[:3]}_{index + 1}"

    def index_of(self, collection: str, record_id: Any) -> int | None:
        """The base index for an id, or None when the id is not one of the base records."""
        codec = self._codecs[collection]
        if codec is not None:
            index = codec.decode(record_id if isinstance(record_id, (int, str)) else str(record_id))
        else:
            text = str(record_id).rsplit("_", 1)[-1]
            index = int(text) - 1 if short_digits(text) else None
        return index if index is not None and 0 <= index < self.sizes[collection] else None

    # -- time -----------------------------------------------------------------------------------

    def updated_at(self, collection: str, index: int, record_seed: int | None = None) -> datetime:
        """Base records change in index order, spread over the window that ends at the clock.

        Whole seconds, as the records carry them, so filters agree with what clients see.
        """
        step = self.window / max(self.sizes[collection], 1)
        start = self.clock - self.window
        if record_seed is None:
            record_seed = self._record_seed(collection, index)
        jitter = (record_seed % 1000) / 1000 * 0.9
        return (start + step * (index + jitter)).replace(microsecond=0)

    def first_changed_since(self, collection: str, since: datetime) -> int:
        """The first base index whose updated-at is at or after `since`."""
        size = self.sizes[collection]
        key = lambda i: self.updated_at(collection, i)  # noqa: E731
        return bisect.bisect_left(range(size), since, key=key)

    # -- records --------------------------------------------------------------------------------

    def record(self, collection: str, index: int) -> dict[str, Any]:
        if not 0 <= index < self.sizes[collection]:
            raise IndexError(f"{collection} has {self.sizes[collection]} records, not {index + 1}")
        if self.cache is not None:
            cached = self.cache.get((self._cache_key, collection, index))
            if cached is not None:
                return cached
        record = self.make(collection, index)
        assert record is not None
        if self.cache is not None:
            self.cache.put((self._cache_key, collection, index), record)
        return record

    def records_at(self, collection: str, indices: list[int]) -> list[dict[str, Any]]:
        """`record` for several indices, the cached ones looked up together."""
        if self.cache is None:
            return [self.record(collection, i) for i in indices]
        found = self.cache.get_many([(self._cache_key, collection, i) for i in indices])
        pairs = zip(found, indices, strict=True)
        return [r if r is not None else self.record(collection, i) for r, i in pairs]

    def make(self, collection: str, index: int, *, seed_salt: str = "") -> dict[str, Any] | None:
        """Make record `index` even past the base size (new records of an overlay); None when
        the id pattern has no room for it."""
        col = self.collections[collection]
        codec = self._codecs[collection]
        if codec is not None and index >= codec.capacity:
            return None
        record_seed = self._record_seed(collection + seed_salt, index)
        size = self.sizes[collection]
        updated = self.updated_at(collection, min(index, max(size - 1, 0)), record_seed)
        with self._lock:
            self._fake.random.seed(record_seed)  # what seed_instance does, less its wrapper
            age = timedelta(
                seconds=self._fake.random.uniform(0, (updated - (self.clock - self.window)).total_seconds())
            )
            ctx = Ctx(
                self._fake,
                index,
                (updated - age).replace(microsecond=0),
                updated,
                self.clock - self.window,
                self.null_share,
                self.id_of,
                self.sizes,
                edge=self.edge,
                updated_field=col.updated_field,
            )
            try:
                try:
                    record = self._builders[collection](ctx)
                except Infinite:  # a required part no value satisfies: the best record there is
                    self._fake.seed_instance(record_seed)
                    ctx = Ctx(**{**{k: getattr(ctx, k) for k in _CTX_ARGS}, "lenient": True})
                    record = self._builders[collection](ctx)
            except Infinite:
                raise SynthError(
                    col.item_schema_uri.partition("#")[2],
                    "every value of this schema nests forever (a required field that is the schema itself)",
                    "make the recursive field optional or nullable",
                ) from None
        if isinstance(record, dict):
            record[col.id_field] = self.id_of(collection, index)
            if col.updated_field and col.updated_field in record:
                record[col.updated_field] = self.stamp(collection, col.updated_field, updated)
            if self.adversarial:
                plan = self._plans.get(collection)
                if plan is None:
                    plan = self._plans[collection] = plan_for(self.contract, col)
                record = untidy(self.contract, col, plan, record, record_seed)
        return record

    def stamp(self, collection: str, name: str, moment: datetime) -> Any:
        """A time as the field's schema wants it: RFC 3339, a date, or Unix seconds."""
        kinds = self._time_kinds.get((collection, name))
        if kinds is None:
            kinds = self._field_kind(collection, name)
            self._time_kinds[(collection, name)] = kinds
        if kinds == "integer":
            return int(moment.timestamp())
        if kinds == "number":
            return float(int(moment.timestamp()))
        if kinds == "date":
            return moment.date().isoformat()
        return rfc3339(moment)

    def _field_kind(self, collection: str, name: str) -> str:
        prop = self._field_schema(collection, name)
        kind = prop.get("type")
        kinds = {kind} if isinstance(kind, str) else set(kind or [])
        if "string" in kinds or not kinds:
            return "date" if prop.get("format") == "date" else "date-time"
        return "integer" if "integer" in kinds else "number" if "number" in kinds else "date-time"

    def _field_schema(self, collection: str, name: str) -> dict[str, Any]:
        return field_schema(self.contract, self.collections[collection], name)

    def records(self, collection: str, start: int = 0, stop: int | None = None) -> Iterator[dict[str, Any]]:
        stop = self.sizes[collection] if stop is None else min(stop, self.sizes[collection])
        for index in range(start, stop):
            yield self.record(collection, index)

    def _record_seed(self, collection: str, index: int) -> int:
        digest = hashlib.blake2b(f"{self.seed}:{collection}:{index}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big")


# -- the id space, as the contract alone gives it ------------------------------------------------


def field_schema(contract: Contract, col: Collection, name: str) -> dict[str, Any]:
    """The schema of a top-level field of the item schema, looked for through allOf parts."""
    todo = [(col.item_schema, col.item_schema_uri)]
    for _ in range(50):
        if not todo:
            break
        node, uri = todo.pop(0)
        node, uri = contract.deref(node, uri)
        if not isinstance(node, dict):
            continue
        prop = (node.get("properties") or {}).get(name)
        if prop is not None:
            found = contract.deref(prop, f"{uri}/properties/{name}")[0]
            return found if isinstance(found, dict) else {}
        todo += [(part, f"{uri}/allOf/{i}") for i, part in enumerate(node.get("allOf") or [])]
    return {}


def id_codec(contract: Contract, col: Collection, seed: int, *, adversarial: bool = False) -> Codec | None:
    """The codec that makes this collection's ids; None when ids are `<col>_<n>` (no bound)."""
    id_schema = col.id_schema
    if not {"type", "pattern", "format"} & set(id_schema):  # e.g. an id declared in an allOf part
        id_schema = field_schema(contract, col, col.id_field) or id_schema
    return codec_for_schema(id_schema, seed, col.name, adversarial=adversarial)


def id_room(contract: Contract, collection: str) -> int | None:
    """How many records the collection's id space holds (`^WH[0-9]{2}$`: 100); None: no bound
    a tenant could reach. The same for every seed: a seed only permutes the ids."""
    codec = id_codec(contract, contract.collections[collection], 0, adversarial=True)  # the smaller room
    if codec is None or codec.capacity >= UNBOUNDED:
        return None
    return int(codec.capacity)


UNBOUNDED = 2**40  # an id space this large is never the limit
SPARE_SHARE = 4  # a quarter of a small id space stays free for the records a check creates
MAX_SPARE = 50


def fit_sizes(contract: Contract, sizes: Mapping[str, int]) -> tuple[dict[str, int], dict[str, str]]:
    """Sizes a tenant can hold: each cut to what its id space has room for, less a spare share
    for the records checks create later (a pattern of 100 ids: 75 records and 25 to create).
    Returns the sizes and, per cut collection, why (`warehouses: 75 of 750, ids ^WH[0-9]{2}$ hold 100`)."""
    fitted, cut = dict(sizes), {}
    for name, wanted in sizes.items():
        room = id_room(contract, name) if name in contract.collections else None
        if room is None:
            continue
        most = room - min(room // SPARE_SHARE, MAX_SPARE)
        if wanted > most:
            fitted[name] = most
            col = contract.collections[name]
            cut[name] = f"{name}: {most} of {wanted}, the ids {_id_space(col)} hold {room}"
    return fitted, cut


def _id_space(col: Collection) -> str:
    schema = col.id_schema
    return str(schema.get("pattern") or f"{col.id_field} ({schema.get('type', 'string')})")
