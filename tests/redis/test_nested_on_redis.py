"""Records of nested collections are scoped by their parent in Redis as in memory: the parent a
create named travels in the change log, so another replica (a second sandbox on the same Redis)
finds the record under that parent only; seed records are spread over the parent collection's
first records (tests/unit/test_sandbox_nested.py has the same facts in memory)."""

from __future__ import annotations

from contextlib import closing

from starlette.testclient import TestClient

from harness.sandbox.app import Sandbox
from harness.sandbox.store import open_store
from tests.unit.test_sandbox_nested import TWILIO_SHAPED, contract_of


def test_a_record_created_on_one_replica_is_under_its_parent_only_on_another(redis_server, tmp_path):
    contract = contract_of(tmp_path, TWILIO_SHAPED)
    one = Sandbox(contract, admin_token="adm", store=open_store(redis_server.url))
    two = Sandbox(contract, admin_token="adm", store=open_store(redis_server.url))
    with closing(one), closing(two), TestClient(one.app) as a, TestClient(two.app) as b:
        made = a.post("/_sandbox/tenants", json={"seed": 3}, headers={"Authorization": "Bearer adm"}).json()
        key, base = {"X-Key": made["client_secret"]}, made["base_url"]
        accounts = [x["sid"] for x in b.get(base + "/Accounts", headers=key).json()["accounts"]]
        mine, other = accounts[0], accounts[1]
        queue = a.post(base + f"/Accounts/{mine}/Queues", json={"name": "q"}, headers=key).json()
        assert b.get(base + f"/Accounts/{mine}/Queues/{queue['sid']}", headers=key).status_code == 200
        assert b.get(base + f"/Accounts/{other}/Queues/{queue['sid']}", headers=key).status_code == 404
        here = b.get(base + f"/Accounts/{mine}/Queues", params={"PageSize": 100}, headers=key).json()
        there = b.get(base + f"/Accounts/{other}/Queues", params={"PageSize": 100}, headers=key).json()
        assert queue["sid"] in [q["sid"] for q in here["queues"]]
        assert queue["sid"] not in [q["sid"] for q in there["queues"]]
        assert {q["account_sid"] for q in there["queues"]} == {other} and there["queues"]  # seeds: divided
