"""Lenient ids on the shared store: a record made for an unknown id on one replica is kept in the
change log, so another replica reads it (made once, not twice), and its log entry takes no index
from creates: a create on either replica afterwards gets an id of its own on both."""

from __future__ import annotations

from contextlib import closing

from starlette.testclient import TestClient

from harness.contract import load
from harness.sandbox.app import Sandbox
from harness.sandbox.store import open_store
from tests.unit.test_sandbox_mocklike import ADMIN, KEY, STRIPE_LIKE


def test_a_record_made_for_an_unknown_id_on_one_replica_is_the_same_on_another(redis_server):
    contract = load(STRIPE_LIKE)
    one = Sandbox(contract, admin_token="adm", store=open_store(redis_server.url))
    two = Sandbox(contract, admin_token="adm", store=open_store(redis_server.url))
    with closing(one), closing(two), TestClient(one.app) as a, TestClient(two.app) as b:
        spec = {"seed": 4, "client_secret": "sk_test_123", "lenient_ids": True}
        made = a.post("/_sandbox/tenants", json=spec, headers=ADMIN).json()
        base = made["base_url"] + "/v1/customers"
        first = a.get(base + "/cus_123", headers=KEY)
        assert first.status_code == 200 and first.json()["id"] == "cus_123"
        assert b.get(base + "/cus_123", headers=KEY).json() == first.json()
        on_b = b.post(base, data={"email": "b@example.com"}, headers=KEY).json()["id"]
        on_a = a.post(base, data={"email": "a@example.com"}, headers=KEY).json()["id"]
        assert len({on_a, on_b, "cus_123"}) == 3
        for http in (a, b):
            assert http.get(base + f"/{on_a}", headers=KEY).json()["email"] == "a@example.com"
            assert http.get(base + f"/{on_b}", headers=KEY).json()["email"] == "b@example.com"
        assert b.delete(base + "/cus_123", headers=KEY).json()["deleted"] is True
        assert a.get(base + "/cus_123", headers=KEY).status_code == 200  # made anew, as on stripe-mock
