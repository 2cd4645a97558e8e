"""The tenant lifecycle tests (tests/unit/test_tenant_lifecycle.py) on the Redis store, where
"freed" means no key of the tenant is left in Redis, and an idle tenant costs under 2 KiB there."""

from __future__ import annotations

import pytest

from harness.sandbox.store.redis import TENANTS, RedisStore, owner_key
from tests.unit.test_tenant_lifecycle import *  # noqa: F403
from tests.unit.test_tenant_lifecycle import tenants as _tenants  # noqa: F401

IDLE_TENANT_REDIS_BUDGET = 2 * 1024  # issue 18: Redis memory per idle tenant under 2 KiB


@pytest.fixture
def store(redis_server):
    redis_server.flush()
    store = RedisStore(redis_server.client())
    yield store
    store.close()


@pytest.fixture
def leftovers(store):
    def find(tenant_id: str) -> list[str]:
        keys = [k.decode() for k in store.r.scan_iter(match=f"hs:{{{tenant_id}}}:*", count=1000)]
        if store.r.zscore(TENANTS, tenant_id) is not None:
            keys.append(TENANTS)
        owners = [k.decode() for k in store.r.scan_iter(match=owner_key("*"))]
        return keys + [o for o in owners if store.r.sismember(o, tenant_id)]

    return find


def test_an_idle_tenant_costs_under_2_kib_of_redis(tenants, store):
    tenants.create(seed=0)
    before = store.r.info("memory")["used_memory"]
    made = [tenants.create(seed=i)[0] for i in range(1, 201)]
    per_tenant = (store.r.info("memory")["used_memory"] - before) / len(made)
    assert per_tenant < IDLE_TENANT_REDIS_BUDGET, f"an idle tenant costs {per_tenant:.0f} bytes of Redis"


del test_the_control_api_takes_a_ttl_and_refuses_past_the_quota  # noqa: F821  (store-independent)
