"""What suites written against a stateless mock need (stripe-python's, against stripe-mock): the
API at the root of the port (`root_tenant`), a client secret chosen by whoever made the tenant
(the suite's hard-coded `sk_test_123`), and lenient ids: an unknown id of the right shape is a
record made for it and kept (as on stripe-mock every id exists: one deleted is made anew). A wrong
key stays a 401, and without lenient ids an unknown or deleted id is a 404."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from harness.contract import load
from harness.sandbox.app import Sandbox
from tests.unit.test_sandbox_nested import TWILIO_SHAPED, contract_of

STRIPE_LIKE = Path(__file__).resolve().parents[1] / "contracts" / "stripe_like.openapi.yaml"
ADMIN = {"Authorization": "Bearer adm"}
KEY = {"Authorization": "Bearer sk_test_123"}


@pytest.fixture(scope="module")
def stripe_like():
    sandbox = Sandbox(load(STRIPE_LIKE), admin_token="adm")
    with TestClient(sandbox.app) as http:
        yield sandbox, http


def _tenant(http, **spec):
    made = http.post("/_sandbox/tenants", json={"seed": 5, **spec}, headers=ADMIN)
    assert made.status_code == 201, made.text
    return made.json()


def test_a_chosen_client_secret_is_the_tenants_key_and_a_wrong_one_is_still_refused(stripe_like):
    _, http = stripe_like
    made = _tenant(http, client_secret="sk_test_123")
    assert made["client_secret"] == "sk_test_123"
    assert http.get(made["base_url"] + "/v1/customers", headers=KEY).status_code == 200
    wrong = {"Authorization": "Bearer sk_test_124"}
    assert http.get(made["base_url"] + "/v1/customers", headers=wrong).status_code == 401


def test_a_client_secret_the_control_contract_refuses_names_the_field(stripe_like):
    _, http = stripe_like
    refused = http.post("/_sandbox/tenants", json={"client_secret": "two words"}, headers=ADMIN)
    assert refused.status_code == 422 and "client_secret" in refused.text


def test_lenient_ids_read_update_and_delete_a_record_never_created(stripe_like):
    _, http = stripe_like
    made = _tenant(http, client_secret="sk_test_123", lenient_ids=True)
    assert made["lenient_ids"] is True
    base = made["base_url"] + "/v1/customers/cus_123"
    read = http.get(base, headers=KEY)
    assert read.status_code == 200 and read.json()["id"] == "cus_123"
    assert http.get(base, headers=KEY).json() == read.json()  # kept, not made anew
    updated = http.post(base, data={"metadata[key]": "value"}, headers=KEY)
    assert updated.status_code == 200 and updated.json()["metadata"] == {"key": "value"}
    assert http.get(base, headers=KEY).json()["metadata"] == {"key": "value"}
    deleted = http.delete(made["base_url"] + "/v1/customers/cus_456", headers=KEY)  # never read first
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    again = http.get(made["base_url"] + "/v1/customers/cus_456", headers=KEY)  # every id exists, anew
    assert again.status_code == 200 and again.json()["id"] == "cus_456"
    changes = http.get(f"/_sandbox/tenants/{made['id']}/changes", headers=ADMIN).json()["data"]
    assert [(c["type"], c["id"]) for c in changes] == [
        ("created", "cus_123"),
        ("updated", "cus_123"),
        ("created", "cus_456"),
        ("deleted", "cus_456"),
        ("created", "cus_456"),
    ]


def test_without_lenient_ids_an_unknown_id_is_a_404(stripe_like):
    _, http = stripe_like
    made = _tenant(http, client_secret="sk_test_123")
    assert made["lenient_ids"] is False
    assert http.get(made["base_url"] + "/v1/customers/cus_123", headers=KEY).status_code == 404
    assert http.post(made["base_url"] + "/v1/customers/cus_123", data={}, headers=KEY).status_code == 404
    first = http.get(made["base_url"] + "/v1/customers", headers=KEY).json()["data"][0]["id"]
    assert http.delete(made["base_url"] + f"/v1/customers/{first}", headers=KEY).status_code == 200
    assert http.get(made["base_url"] + f"/v1/customers/{first}", headers=KEY).status_code == 404


def test_a_create_after_a_lenient_read_gets_an_id_of_its_own(stripe_like):
    _, http = stripe_like
    made = _tenant(http, client_secret="sk_test_123", lenient_ids=True)
    listed = http.get(made["base_url"] + "/v1/customers", params={"limit": 100}, headers=KEY).json()["data"]
    seed_id = listed[-1]["id"]
    assert http.get(made["base_url"] + "/v1/customers/cus_999", headers=KEY).status_code == 200
    created = http.post(made["base_url"] + "/v1/customers", data={"email": "a@example.com"}, headers=KEY)
    assert created.status_code == 200, created.text
    assert created.json()["id"] not in {"cus_999", seed_id}


def test_a_create_never_lands_on_an_id_a_lenient_read_took(stripe_like):
    sandbox, http = stripe_like
    made = _tenant(http, client_secret="sk_test_123", lenient_ids=True)
    data = sandbox.tenants.get(made["id"]).data
    size = data.dataset.size("customers")
    upcoming = [data.dataset.id_of("customers", size + k) for k in range(2)]  # the next creates' ids
    assert http.get(made["base_url"] + f"/v1/customers/{upcoming[0]}", headers=KEY).status_code == 200
    created = http.post(made["base_url"] + "/v1/customers", data={"email": "b@example.com"}, headers=KEY)
    assert created.json()["id"] == upcoming[1]
    assert http.get(made["base_url"] + f"/v1/customers/{upcoming[0]}", headers=KEY).json()["email"] != (
        "b@example.com"
    )


def test_the_root_of_the_port_serves_the_root_tenant_and_the_control_api_stays(stripe_like):
    sandbox, http = stripe_like
    root = _tenant(http, client_secret="sk_test_123", lenient_ids=True)
    other = _tenant(http)
    sandbox.root_tenant = root["id"]
    try:
        at_root = http.get("/v1/customers/cus_777", headers=KEY)
        assert at_root.status_code == 200 and at_root.json()["id"] == "cus_777"
        assert http.get(f"/_sandbox/tenants/{root['id']}", headers=ADMIN).status_code == 200
        theirs = {"Authorization": f"Bearer {other['client_secret']}"}
        assert http.get(other["base_url"] + "/v1/customers", headers=theirs).status_code == 200
        assert http.get("/v1/customers", headers=theirs).status_code == 401  # the root is one tenant's
    finally:
        sandbox.root_tenant = None
    assert http.get("/v1/customers/cus_777", headers=KEY).status_code == 404


def test_a_lenient_nested_record_is_made_under_the_parent_its_path_names(tmp_path):
    contract = contract_of(tmp_path, TWILIO_SHAPED)
    with TestClient(Sandbox(contract, admin_token="adm").app) as http:
        made = _tenant(http, lenient_ids=True)
        key, base = {"X-Key": made["client_secret"]}, made["base_url"]
        mine = base + "/Accounts/AC00000001/Queues/QU0000abcd"
        read = http.get(mine, headers=key)
        assert read.status_code == 200, read.text
        assert (read.json()["sid"], read.json()["account_sid"]) == ("QU0000abcd", "AC00000001")
        assert http.get(base + "/Accounts/AC00000002/Queues/QU0000abcd", headers=key).status_code == 404
        listed = http.get(base + "/Accounts/AC00000001/Queues", params={"PageSize": 100}, headers=key).json()
        assert "QU0000abcd" in [q["sid"] for q in listed["queues"]]
