"""A Stripe-shaped contract: the change feed's event-id paging (`starting_after`,
`ending_before`), `type` and `created[...]` filters, Unix-second times and `data.object`; errors
in the contract's `{error: {type, message, param}}` naming the parameter at fault."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import harness.runtime
from harness.contract import load

CONTRACT = Path(__file__).resolve().parents[1] / "contracts" / "stripe_like.openapi.yaml"


@pytest.fixture(scope="module")
def api():
    with harness.runtime.embedded(load(CONTRACT)) as sandbox:
        tenant = sandbox.new_tenant(seed=3, rate_limit=(10_000.0, 10_000))
        headers = {"Authorization": f"Bearer {tenant.client_secret}"}
        with httpx.Client(base_url=tenant.base_url.rstrip("/"), headers=headers) as http:
            for n in range(3):
                made = http.post("/v1/customers", data={"email": f"f{n}@example.com", "metadata[n]": str(n)})
                assert made.status_code == 200, made.text
            assert http.post("/v1/products", data={"name": "Widget"}).status_code == 200
            assert http.delete(f"/v1/customers/{made.json()['id']}").status_code == 200
            yield http


def events(http, **params):
    response = http.get("/v1/events", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_events_carry_the_record_in_data_object_and_unix_times(api):
    page = events(api, limit=100)
    assert page["object"] == "list" and page["url"] == "/v1/events" and page["has_more"] is False
    created = [e for e in page["data"] if e["type"] == "customer.created"]
    assert len(created) == 3
    assert all(isinstance(e["created"], int) and e["data"]["object"]["object"] == "customer" for e in created)
    # newest first, as the contract's `order: newest_first` says (Stripe's order)
    assert [e["data"]["object"]["metadata"] for e in created] == [{"n": "2"}, {"n": "1"}, {"n": "0"}]
    assert page["data"][0]["type"] == "customer.deleted"
    assert page["data"][0]["data"]["object"]["id"] == created[0]["data"]["object"]["id"]


def test_starting_after_pages_to_older_events_and_ending_before_to_newer(api):
    whole = [e["id"] for e in events(api, limit=100)["data"]]
    first = events(api, limit=2)
    assert [e["id"] for e in first["data"]] == whole[:2] and first["has_more"] is True
    rest = events(api, limit=100, starting_after=whole[1])
    assert [e["id"] for e in rest["data"]] == whole[2:] and rest["has_more"] is False
    before = events(api, limit=2, ending_before=whole[-1])
    assert [e["id"] for e in before["data"]] == whole[-3:-1] and before["has_more"] is True


def test_type_and_created_filters(api):
    assert {e["type"] for e in events(api, type="customer.*")["data"]} == {
        "customer.created",
        "customer.deleted",
    }
    assert [e["type"] for e in events(api, **{"types[0]": "product.created"})["data"]] == ["product.created"]
    assert events(api, **{"created[gt]": 4_102_444_800})["data"] == []  # nothing after 2100
    assert len(events(api, **{"created[gte]": 0}, limit=100)["data"]) == 5


def test_an_unknown_event_id_is_a_400_naming_the_parameter(api):
    response = api.get("/v1/events", params={"starting_after": "evt_nope"})
    assert response.status_code == 400
    assert "starting_after" in response.text and "evt_nope" in response.text


def test_an_error_names_the_parameter_at_fault_or_none(api):
    refused = api.get("/v1/customers", params={"limit": 500})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "limit"
    missing = api.get("/v1/customers/cus_missing")
    assert missing.status_code == 404 and "param" not in missing.json()["error"]


def test_expand_replaces_an_id_field_by_the_record_it_names(api):
    customer = api.post("/v1/customers", data={"email": "exp@example.com"}).json()
    invoice = api.post("/v1/invoices", data={"customer": customer["id"]}).json()
    assert api.get(f"/v1/invoices/{invoice['id']}").json()["customer"] == customer["id"]
    got = api.get(f"/v1/invoices/{invoice['id']}", params={"expand[]": "customer"}).json()
    assert got["customer"]["id"] == customer["id"] and got["customer"]["email"] == "exp@example.com"
    listed, after = [], None
    while True:  # the new invoice is on the last page
        params = {"expand[]": "data.customer", "limit": 100, **({"starting_after": after} if after else {})}
        page = api.get("/v1/invoices", params=params).json()
        listed += page["data"]
        if not page["has_more"]:
            break
        after = page["data"][-1]["id"]
    mine = next(i for i in listed if i["id"] == invoice["id"])
    assert mine["customer"]["email"] == "exp@example.com"
