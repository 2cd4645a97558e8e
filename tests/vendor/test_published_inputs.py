"""Inputs of the vendors' published specs that the sandbox reads as the spec says: query
styles (Stripe's deepObject `expand[]`/`created[gt]`, Apideck's `filter[...]`), records scoped
by their parent (Meraki's networks), form field names (Twilio's `FriendlyName`)."""

from __future__ import annotations

import httpx
import pytest

import harness.runtime
from harness.contract import load, validate_request
from tests.published import published


@pytest.mark.parametrize(
    "name, path, query",
    [
        (
            "stripe",
            "/v1/customers",
            {"expand[]": ["data.default_source"], "created[gt]": ["5"], "limit": ["3"]},
        ),
        ("stripe", "/v1/customers", {"expand[0]": ["data.default_source"], "created": ["5"]}),
        ("apideck-crm", "/crm/companies", {"filter[name]": ["x"], "sort[by]": ["created_at"]}),
    ],
    ids=["stripe-brackets", "stripe-indexed", "apideck-deep-object"],
)
def test_deep_object_query_parameters_are_read_not_refused(name, path, query):
    contract = load(published(name))
    _, found = validate_request(contract, "GET", path, query)
    assert [v.pointer for v in found if v.pointer.startswith("/query")] == []


def test_a_deep_object_value_of_the_wrong_type_is_refused_by_its_parameter():
    contract = load(published("stripe"))
    _, wrong = validate_request(contract, "GET", "/v1/customers", {"created[gt]": ["soon"]})
    assert [v.pointer for v in wrong] == ["/query/created"]


def test_meraki_vlans_are_scoped_by_their_network():
    contract = load(published("meraki"))
    with harness.runtime.embedded(contract) as sandbox:
        tenant = sandbox.new_tenant(seed=3, sizes={"vlans": 3}, rate_limit=(10_000.0, 10_000))
        key = {"X-Cisco-Meraki-API-Key": tenant.client_secret}
        vlan = {"id": "1234", "name": "My VLAN", "subnet": "192.168.1.0/24", "applianceIp": "192.168.1.2"}
        with httpx.Client(base_url=tenant.base_url, headers=key, timeout=30) as http:
            made = http.post("/networks/N_1/vlans", json=vlan)
            assert made.status_code == 201, made.text
            vlan_id = made.json()["id"]
            assert http.get(f"/networks/N_1/vlans/{vlan_id}").status_code == 200
            assert http.get(f"/networks/N_2/vlans/{vlan_id}").status_code == 404
            assert vlan_id in {v["id"] for v in http.get("/networks/N_1/vlans").json()}
            assert vlan_id not in {v["id"] for v in http.get("/networks/N_2/vlans").json()}


def test_twilio_form_fields_are_stored_under_the_records_names():
    contract = load(published("twilio"))
    with harness.runtime.embedded(contract) as sandbox:
        tenant = sandbox.new_tenant(seed=3, rate_limit=(10_000.0, 10_000))
        auth = (tenant.client_id, tenant.client_secret)
        account = f"/2010-04-01/Accounts/{tenant.client_id}"
        with httpx.Client(base_url=tenant.base_url, auth=auth, timeout=30) as http:
            made = http.post(f"{account}/Queues.json", data={"FriendlyName": "support", "MaxSize": "10"})
            assert made.status_code == 201, made.text
            queue = made.json()
            assert (queue["friendly_name"], queue["max_size"], queue["account_sid"]) == (
                "support",
                10,
                tenant.client_id,
            )
            read = http.get(f"{account}/Queues/{queue['sid']}.json").json()
            assert read["friendly_name"] == "support"
