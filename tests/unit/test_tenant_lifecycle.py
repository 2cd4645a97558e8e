"""A shared sandbox's tenants come and go: a TTL ends them, a quota bounds how many one API key
holds, and deleting one frees everything it held. Run here on the memory store and, by
tests/redis/test_tenant_lifecycle_on_redis.py, on Redis: the same tests for both stores."""

from __future__ import annotations

import gc
import time
import tracemalloc
import weakref
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness.sandbox.store import MemoryStore
from harness.sandbox.tenants import QuotaExceeded, Tenants

IDLE_TENANT_BUDGET = 20 * 1024  # issue 17: an idle tenant costs at most 20 KiB in memory


@pytest.fixture
def store():
    return MemoryStore()


@pytest.fixture
def leftovers(store):
    """What the store still holds of a tenant id (empty once it is freed)."""

    def find(tenant_id: str) -> list[str]:
        held = [name for name in ("_by_id", "_expiry") if tenant_id in getattr(store, name)]
        return held + [f"owner {o}" for o, ids in store._owners.items() if tenant_id in ids]

    return find


@pytest.fixture
def tenants(platform_contract, store):
    with ThreadPoolExecutor(2) as executor:
        yield Tenants(platform_contract, executor, store)


def use_everything(tenant) -> None:
    """Give a tenant some of every kind of state: tokens, writes, buckets, faults, logs, webhooks."""
    client = next(iter(tenant.clients.values()))
    token = tenant.issue_token(client, client.scopes)
    tenant.webhooks.backoff = 0.01
    tenant.webhooks.subscribe(["contact.created", "contact.deleted"], url="http://127.0.0.1:9/hook")
    record = tenant.data.create("contacts", {"first_name": "A"})
    tenant.data.update("contacts", record["id"], {"first_name": "B"})
    tenant.data.delete("contacts", tenant.data.page("contacts")[0][0]["id"])
    tenant.limiter.take(client.client_id)
    tenant.faults.set([{"kind": "status", "status": 503, "times": 3}])
    tenant.faults.fire("listContacts")
    tenant.requests.next_seq()
    tenant.revoke(client.client_id)
    tenant.expire_token(token.value)


def test_a_tenant_past_its_ttl_is_gone_and_freed(tenants, leftovers):
    # 2 s of TTL: a loaded machine must not let it run out while the tenant is still being used
    # (a write after expiry would leave keys behind on Redis); then wait until it has run out
    short, _ = tenants.create(seed=1, sizes={"contacts": 3}, ttl=2.0)
    lasting, _ = tenants.create(seed=2, sizes={"contacts": 3})
    use_everything(short)
    assert tenants.get(short.id).id == short.id
    time.sleep(max(short.expires_at - time.time(), 0) + 0.2)
    assert tenants.get(short.id) is None
    assert leftovers(short.id) == []
    assert tenants.get(lasting.id) is not None and len(tenants) == 1


def test_expired_tenants_nobody_asks_for_are_swept(tenants, leftovers):
    made = [tenants.create(seed=i, sizes={"contacts": 1}, ttl=0.3)[0] for i in range(3)]
    time.sleep(0.4)
    assert tenants.sweep(every=0) == 3
    assert [leftovers(t.id) for t in made] == [[], [], []]
    assert len(tenants) == 0


def test_the_quota_bounds_the_tenants_one_api_key_holds_at_once(tenants):
    tenants.quota = 2
    first, _ = tenants.create(seed=1, owner="key-a")
    tenants.create(seed=2, owner="key-a")
    with pytest.raises(QuotaExceeded, match="quota of 2"):
        tenants.create(seed=3, owner="key-a")
    tenants.create(seed=4, owner="key-b")  # another key has its own quota
    assert tenants.owned("key-a") == 2
    tenants.delete(first.id)
    tenants.create(seed=5, owner="key-a")  # a deleted tenant frees its place
    assert tenants.owned("key-a") == 2 and len(tenants) == 3


def test_deleting_a_tenant_frees_everything_it_held(tenants, leftovers):
    tenant, _ = tenants.create(seed=3, sizes={"contacts": 5}, owner="key-a")
    other, _ = tenants.create(seed=4, sizes={"contacts": 5}, owner="key-a")
    use_everything(tenant)
    tenant_id, alive = tenant.id, weakref.ref(tenant)
    assert tenants.delete(tenant_id) is True
    assert tenants.delete(tenant_id) is False
    del tenant
    gc.collect()
    assert alive() is None, "something still holds the deleted tenant"
    assert leftovers(tenant_id) == []
    assert tenants.get(tenant_id) is None and tenants.owned("key-a") == 1
    assert tenants.get(other.id) is not None


def test_an_idle_tenant_costs_at_most_20_kib_of_this_process(tenants):
    tenants.create(seed=0)  # compiled builders and caches are the contract's, not a tenant's
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        made = [tenants.create(seed=i)[0] for i in range(1, 101)]
        gc.collect()
        per_tenant = (tracemalloc.get_traced_memory()[0] - before) / len(made)
    finally:
        tracemalloc.stop()
    assert per_tenant <= IDLE_TENANT_BUDGET, f"an idle tenant costs {per_tenant:.0f} bytes"


def test_the_control_api_takes_a_ttl_and_refuses_past_the_quota(platform_contract):
    import httpx

    from harness.runtime import EmbeddedSandbox

    runtime = EmbeddedSandbox(platform_contract, "adm")
    runtime.sandbox.tenants.quota = 1
    handle = runtime.start()
    try:
        admin = {"Authorization": "Bearer adm"}
        url = handle.base_url + "/_sandbox/tenants"
        bad = httpx.post(url, json={"ttl": 0}, headers=admin)
        assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/body/ttl"
        made = httpx.post(url, json={"ttl": 60, "sizes": {"contacts": 1}}, headers=admin)
        assert made.status_code == 201
        expires = made.json()["expires_at"]
        assert expires is not None and expires > time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        refused = httpx.post(url, json={}, headers=admin)
        assert refused.status_code == 429 and "quota of 1" in refused.json()["detail"]
        assert httpx.delete(f"{url}/{made.json()['id']}", headers=admin).status_code == 204
        assert httpx.post(url, json={}, headers=admin).status_code == 201
    finally:
        runtime.stop()
