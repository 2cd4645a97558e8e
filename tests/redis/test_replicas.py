"""Two sandbox processes on one Redis serve the same tenants: whatever one does, the other sees."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from harness.sandbox.store.redis import LOCK_TIMEOUT
from tests.redis.replicas import start_replica, token


@pytest.fixture(scope="module")
def replicas(redis_server):
    redis_server.flush()
    started = [start_replica(redis_server.url), start_replica(redis_server.url)]
    try:
        yield started
    finally:
        for replica in started:
            replica.stop()


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def test_a_tenant_made_on_one_replica_is_served_by_the_other_end_to_end(replicas):
    a, b = replicas
    created = a.admin.post("/_sandbox/tenants", json={"seed": 3, "sizes": {"contacts": 5}})
    assert created.status_code == 201, created.text
    tenant = created.json()
    tid = tenant["id"]

    issued_by_b = token(b, tenant)
    written = httpx.post(
        a.api(tid) + "/v1/contacts",
        json={"email": "x@example.com", "first_name": "X", "last_name": "Y"},
        headers=bearer(issued_by_b),
    )
    assert written.status_code == 201, written.text
    record = written.json()

    read = httpx.get(b.api(tid) + f"/v1/contacts/{record['id']}", headers=bearer(issued_by_b))
    assert read.status_code == 200 and read.json() == record
    listed = httpx.get(b.api(tid) + "/v1/contacts", params={"limit": 50}, headers=bearer(issued_by_b)).json()
    assert [r["id"] for r in listed["data"]][-1] == record["id"] and len(listed["data"]) == 6

    changes = b.admin.get(f"/_sandbox/tenants/{tid}/changes").json()["data"]
    assert [(c["seq"], c["type"], c["id"], c["by"]) for c in changes] == [(1, "created", record["id"], "api")]
    log = a.admin.get(f"/_sandbox/tenants/{tid}/requests").json()["data"]
    # one request log, numbered in arrival order, whichever replica served each request
    assert [e["operation"] for e in log] == ["issueToken", "createContact", "getContact", "listContacts"]
    assert [e["seq"] for e in log] == [1, 2, 3, 4]
    audit = b.admin.get(f"/_sandbox/tenants/{tid}/audit").json()
    assert audit["problems"] == []
    assert [e["action"] for e in audit["data"]] == ["client.created", "token.issued", "record.created"]
    assert audit["key_id"] == a.admin.get(f"/_sandbox/tenants/{tid}/audit").json()["key_id"]

    assert b.admin.delete(f"/_sandbox/tenants/{tid}").status_code == 204
    assert a.admin.get(f"/_sandbox/tenants/{tid}").status_code == 404
    assert httpx.get(a.api(tid) + "/v1/contacts", headers=bearer(issued_by_b)).status_code == 404


def test_a_revocation_on_one_replica_holds_on_the_other(replicas):
    a, b = replicas
    tenant = a.admin.post("/_sandbox/tenants", json={"seed": 1, "sizes": {"contacts": 1}}).json()
    value = token(a, tenant)
    assert httpx.get(b.api(tenant["id"]) + "/v1/contacts", headers=bearer(value)).status_code == 200
    assert b.admin.post(f"/_sandbox/tenants/{tenant['id']}/revoke", json={}).json() == {"revoked_tokens": 1}
    refused = httpx.get(a.api(tenant["id"]) + "/v1/contacts", headers=bearer(value))
    assert refused.status_code == 401 and "revoked" in refused.headers["www-authenticate"]


def test_one_rate_limit_budget_is_spent_across_both_replicas(replicas):
    a, b = replicas
    spec = {"seed": 1, "sizes": {"contacts": 1}, "rate_limit": {"rate": 0.01, "burst": 6}}
    tenant = a.admin.post("/_sandbox/tenants", json=spec).json()
    headers = bearer(token(b, tenant))
    statuses = [
        httpx.get(replica.api(tenant["id"]) + "/v1/contacts", headers=headers).status_code
        for replica in (a, b, a, b, a, b, a, b)
    ]
    assert statuses == [200] * 6 + [429, 429]
    refused = httpx.get(b.api(tenant["id"]) + "/v1/contacts", headers=headers)
    assert int(refused.headers["retry-after"]) >= 1


def test_a_replica_killed_mid_run_loses_nothing(replicas, redis_server):
    a, b = replicas
    doomed = start_replica(redis_server.url)
    tenant = doomed.admin.post("/_sandbox/tenants", json={"seed": 5, "sizes": {"contacts": 2}}).json()
    tid = tenant["id"]
    headers = bearer(token(doomed, tenant))
    acknowledged: list[str] = []
    stop = threading.Event()

    def write() -> None:
        with httpx.Client(timeout=5) as client:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    r = client.post(
                        doomed.api(tid) + "/v1/contacts",
                        json={"email": f"n{n}@example.com", "first_name": f"n{n}", "last_name": "K"},
                        headers=headers,
                    )
                except httpx.HTTPError:
                    return  # the replica is gone
                if r.status_code == 201:
                    acknowledged.append(r.json()["id"])

    writer = threading.Thread(target=write)
    writer.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 15 and time.monotonic() < deadline:
        time.sleep(0.02)
    doomed.kill()  # SIGKILL in the middle of the writes
    stop.set()
    writer.join(timeout=10)
    assert len(acknowledged) >= 15

    for survivor in (a, b):
        records = survivor.admin.get(
            f"/_sandbox/tenants/{tid}/records/contacts", params={"limit": 1000}
        ).json()
        ids = [r["id"] for r in records["data"]]
        assert set(acknowledged) <= set(ids), "an acknowledged write was lost"
        changes = survivor.admin.get(f"/_sandbox/tenants/{tid}/changes").json()["data"]
        assert [c["seq"] for c in changes] == list(range(1, len(changes) + 1))
        assert records["total"] == 2 + len(changes)  # every change here is a create
        audit = survivor.admin.get(f"/_sandbox/tenants/{tid}/audit").json()
        assert audit["problems"] == []
        assert sum(e["action"] == "record.created" for e in audit["data"]) == len(changes)
    # the survivors go on writing where the dead one stopped (once the lock it may have died
    # holding times out: LOCK_TIMEOUT)
    after = httpx.post(
        a.api(tid) + "/v1/contacts",
        json={"email": "after@example.com", "first_name": "A", "last_name": "B"},
        headers=headers,
        timeout=LOCK_TIMEOUT + 10,
    )
    assert after.status_code == 201
    assert b.admin.get(f"/_sandbox/tenants/{tid}/changes").json()["data"][-1]["id"] == after.json()["id"]
