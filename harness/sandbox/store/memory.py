"""The in-memory store: a tenant's parts are plain Python objects in this process.

This is the embedded runtime's store and the reference for every other: the parts are the
sandbox's own classes, so an in-memory request pays nothing for the store interface.
"""

from __future__ import annotations

import threading
from time import time as now
from typing import TYPE_CHECKING, Any

from harness.sandbox.audit import AuditLog, new_key
from harness.sandbox.faults import Faults
from harness.sandbox.idempotency import IdempotencyStore
from harness.sandbox.limits import RateLimiter
from harness.sandbox.recorder import RequestLog
from harness.sandbox.store.scoped import ScopedOverlay
from harness.sandbox.webhooks import Dispatcher
from harness.synth import Dataset

if TYPE_CHECKING:
    from harness.sandbox.tenants import Parts, Tenant, Tenants, TenantSpec


class MemoryStore:
    def __init__(self) -> None:
        self.audit_key = new_key()  # one per sandbox; never leaves it (see harness.sandbox.audit)
        self._by_id: dict[str, Tenant] = {}
        self._owners: dict[str, set[str]] = {}
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def parts(self, spec: TenantSpec, dataset: Dataset, tenants: Tenants) -> Parts:
        from harness.sandbox.tenants import Parts

        return Parts(
            data=ScopedOverlay(dataset),
            limiter=RateLimiter(spec.rate, spec.burst),
            webhooks=Dispatcher(
                tenants.executor,
                tenants.shapes.event_type,
                tenants.shapes.webhook_payload,
                signing=tenants.shapes.signing,
            ),
            clients={},
            tokens={},
            requests=RequestLog(),
            audit=AuditLog(self.audit_key),
            idempotency=IdempotencyStore(),
            faults=Faults(spec.seed),
            change_by={},
        )

    def reserve(self, spec: TenantSpec, quota: int | None) -> bool:
        with self._lock:
            owned = self._owners.setdefault(spec.owner, set())
            if quota is not None and len(owned) >= quota:
                return False
            owned.add(spec.id)
            self._expiry[spec.id] = spec.expires_at
            return True

    def create(self, spec: TenantSpec, build: Any) -> Tenant:
        tenant = build(spec, self.parts)
        with self._lock:
            self._by_id[spec.id] = tenant
        return tenant

    def get(self, tenant_id: str, build: Any = None) -> Tenant | None:
        tenant = self._by_id.get(tenant_id)
        if tenant is None or tenant.expires_at > now():  # the hot path: one lookup, one clock read
            return tenant
        self.delete(tenant_id)
        return None

    def admit(self, tenant_id: str, build: Any, token: str | None) -> Tenant | None:
        return self.get(tenant_id, build)  # in this process: nothing to prefetch

    def delete(self, tenant_id: str) -> bool:
        with self._lock:
            tenant = self._by_id.pop(tenant_id, None)
            self._expiry.pop(tenant_id, None)
            if tenant is not None and tenant.spec is not None:
                self._owners.get(tenant.spec.owner, set()).discard(tenant_id)
        return tenant is not None

    def expired(self, now: float) -> list[str]:
        with self._lock:
            return [tenant_id for tenant_id, at in self._expiry.items() if at <= now]

    def owned(self, owner: str) -> int:
        return len(self._owners.get(owner, ()))

    def count(self) -> int:
        return len(self._by_id)

    def close(self) -> None:
        pass
