"""Faker's text providers answered from pools: a value is one draw from the record's seeded
generator, not a provider run.

A record's names, emails, addresses and sentences cost most of its making: each Faker provider
call formats templates, picks from weighted lists and runs regexes, about 10-30 µs a value.
Every record of every tenant asks the same providers, so each one's output is made once per
process and locale (POOL values, from a seed of its own name: any process, in any order, makes
the same pool), and a record takes `pool[random bits]` from its own seeded generator. Records
stay a pure function of (seed, collection, index); a pool of 4,096 looks as varied as Faker.

Providers whose values must not repeat (uuid4, password, ...) or that the contract names with
x-faker are not pooled: they run as before.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable
from typing import Any

from faker import Faker

POOL_BITS = 12
POOL = 1 << POOL_BITS  # values per provider
POOLED = frozenset(
    {
        "first_name",
        "last_name",
        "name",
        "user_name",
        "email",
        "phone_number",
        "company",
        "city",
        "country_code",
        "currency_code",
        "street_address",
        "postcode",
        "sentence",
        "paragraph",
        "url",
        "domain_name",
        "uri_path",
        "hex_color",
        "ipv4",
        "ipv6",
    }
)
_POOLS: dict[tuple[str, str], tuple[str, ...]] = {}  # (locale, provider) -> values, per process
_FILL = threading.Lock()


class PooledFaker:
    """A Faker Generator whose POOLED providers draw from pools; everything else is the
    generator itself (its `random`, `seed_instance`, the other providers)."""

    def __init__(self, fake: Any, locale: str) -> None:
        self._fake, self._locale = fake, locale
        self._methods: dict[str, Callable[..., Any]] = {}

    @property
    def random(self) -> Any:
        return self._fake.random

    def seed_instance(self, seed: int) -> Any:
        return self._fake.seed_instance(seed)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in POOLED:
            return getattr(self._fake, name)
        method = self._methods.get(name)
        if method is None:
            method = self._methods[name] = self._pooled(name)
        return method

    def _pooled(self, name: str) -> Callable[..., Any]:
        getattr(self._fake, name)  # an AttributeError now, as Faker would raise
        fake, pools, key = self._fake, _POOLS, (self._locale, name)

        def draw(*args: Any, **kwargs: Any) -> Any:
            if args or kwargs:
                return getattr(fake, name)(*args, **kwargs)
            pool = pools.get(key)
            if pool is None:
                pool = self._fill(name)
            return pool[fake.random.getrandbits(POOL_BITS)]

        return draw

    def _fill(self, name: str) -> tuple[str, ...]:
        with _FILL:
            key = (self._locale, name)
            pool = _POOLS.get(key)
            if pool is None:
                maker = _filler(self._locale)  # its own generator: the record being made keeps its state
                maker.seed_instance(hashlib.blake2b(name.encode(), digest_size=8).hexdigest())
                method = getattr(maker, name)
                pool = _POOLS[key] = tuple(method() for _ in range(POOL))
            return pool


@functools.cache
def _filler(locale: str) -> Any:
    return Faker(locale, use_weighting=False)._factories[0]
