"""Where tenant state lives: one interface, two stores.

- `MemoryStore` (the default, and what the embedded runtime uses): tenants are objects in this
  process; nothing is serialized, so the hot path costs what it always did.
- `RedisStore` (`harness sandbox serve --store redis://host:port/db`): everything a tenant is —
  its writes and change log, clients, tokens, revocations, idempotency keys, rate-limit buckets,
  faults, request log, audit chain, webhook subscriptions and deliveries — lives in Redis, so
  any number of sandbox processes behind a load balancer serve the same tenants.

Either way the synthetic base data is never stored: it is a pure function of seed and index.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from harness.core.errors import HarnessError
from harness.sandbox.store.memory import MemoryStore

if TYPE_CHECKING:
    from harness.sandbox.tenants import Tenant, TenantSpec

    Build = Callable[..., Tenant]


class Store(Protocol):
    audit_key: bytes

    def reserve(self, spec: TenantSpec, quota: int | None) -> bool:
        """Register a new tenant for its owner; False when the owner already holds `quota`."""
        ...

    def create(self, spec: TenantSpec, build: Build) -> Tenant: ...

    def get(self, tenant_id: str, build: Build) -> Tenant | None:
        """The live tenant, or None (never created, deleted, or past its TTL)."""
        ...

    def admit(self, tenant_id: str, build: Build, token: str | None) -> Tenant | None:
        """`get` for an API request presenting `token` (None: no bearer token); a shared store
        also prefetches what the request will ask, in one round trip (see store.admission)."""
        ...

    def delete(self, tenant_id: str) -> bool:
        """Forget the tenant and free everything it held."""
        ...

    def expired(self, now: float) -> list[str]: ...

    def owned(self, owner: str) -> int: ...

    def count(self) -> int: ...

    def close(self) -> None: ...


class StoreError(HarnessError, ValueError):
    """A store URL that names no store this sandbox can use."""


def open_store(url: str | None) -> Store:
    """`memory` (or nothing) for the in-process store, `redis://host:port/db` for Redis."""
    if not url or url == "memory":
        return MemoryStore()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from harness.sandbox.store.redis import RedisStore

        return RedisStore.from_url(url)
    raise StoreError(f"--store {url!r}: use memory, or redis://host:port/db")


__all__ = ["MemoryStore", "Store", "StoreError", "open_store"]
