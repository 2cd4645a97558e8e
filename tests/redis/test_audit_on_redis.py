"""The audit chain follows the change log across a crash: a replica killed after appending a
change but before its audit entry leaves the entry out, and the next reader of the chain
completes it (tests/redis/test_replicas.py kills a real replica; this makes the gap exactly)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from harness.sandbox.audit import acting, verify
from harness.sandbox.store.redis import RedisStore, prefix
from harness.sandbox.tenants import Tenants


@pytest.fixture
def tenants(platform_contract, redis_server):
    redis_server.flush()
    store = RedisStore(redis_server.client())
    with ThreadPoolExecutor(2) as executor:
        yield Tenants(platform_contract, executor, store)
    store.close()


def test_a_change_whose_audit_entry_was_never_written_gets_it_when_the_chain_is_read(tenants):
    tenant, _ = tenants.create(seed=3, sizes={"contacts": 2})
    with acting("api"):
        first, second = (
            tenant.data.create("contacts", {"email": f"{n}@example.com", "first_name": n, "last_name": "K"})
            for n in ("a", "b")
        )
    store = tenants.store
    store.r.rpop(prefix(tenant.id) + "audit")  # as if the replica died between the change and its entry
    lost = [e for e in tenant.audit.entries() if e["action"] == "record.created"]
    assert [e["details"]["id"] for e in lost] == [first["id"]]

    tenant.complete_audit()
    created = [e for e in tenant.audit.entries() if e["action"] == "record.created"]
    assert [e["details"]["id"] for e in created] == [first["id"], second["id"]]
    assert created[-1]["details"]["recovered"] is True and created[-1]["by"] == "api"
    assert verify(tenant.audit.entries(), tenant.audit.key) == []  # still one intact chain
    tenant.complete_audit()  # nothing is missing now: nothing is added
    assert len([e for e in tenant.audit.entries() if e["action"] == "record.created"]) == 2
