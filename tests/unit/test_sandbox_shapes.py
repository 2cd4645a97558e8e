"""The sandbox answers collections in the shape the contract documents: its envelope, paging
style, statuses and delete body, nested ids. Served from tests/contracts/shapes/vendor.openapi.yaml
(parts shaped like Stripe, Meraki, GitHub and Linode's published specs)."""

from __future__ import annotations

import re

import pytest

import harness.runtime
from harness.contract import load
from tests.conftest import CONTRACTS

SIZES = {
    "customers": 25,
    "accounts": 3,
    "financial_connections_accounts": 2,
    "ssids": 4,
    "repos": 65,
    "things": 7,
}


@pytest.fixture(scope="module")
def vendor():
    contract = load(CONTRACTS / "shapes" / "vendor.openapi.yaml")
    with harness.runtime.embedded(contract) as handle:
        tenant = handle.new_tenant(seed=3, sizes=SIZES)
        yield tenant, {"X-Key": tenant.client_secret}


def test_stripe_style_lists_page_by_record_id_in_their_envelope(http, vendor):
    tenant, key = vendor
    seen, after = [], None
    while True:
        params = {"limit": 10, **({"starting_after": after} if after else {})}
        response = http.get(tenant.base_url + "/v1/customers", params=params, headers=key)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["object"] == "list" and isinstance(body["has_more"], bool)
        seen += [c["id"] for c in body["data"]]
        if not body["has_more"]:
            break
        after = body["data"][-1]["id"]
    assert seen == [c["id"] for c in tenant.records("customers")]
    unknown = http.get(tenant.base_url + "/v1/customers", params={"starting_after": "cus_nope"}, headers=key)
    # the list documents no client error (only 200): an id it never had is the end of the list
    assert unknown.status_code == 200 and unknown.json()["data"] == [] and unknown.json()["has_more"] is False


def test_writes_answer_the_documented_status_and_delete_body(http, vendor):
    tenant, key = vendor
    created = http.post(tenant.base_url + "/v1/customers", json={"email": "a@example.com"}, headers=key)
    assert created.status_code == 200, created.text  # only 200 is documented, so not 201
    cid = created.json()["id"]
    updated = http.post(
        tenant.base_url + f"/v1/customers/{cid}", json={"email": "b@example.com"}, headers=key
    )
    assert (updated.status_code, updated.json()["email"]) == (
        200,
        "b@example.com",
    )  # POST on the item updates
    deleted = http.delete(tenant.base_url + f"/v1/customers/{cid}", headers=key)
    assert deleted.status_code == 200
    assert deleted.json() == {"id": cid, "object": "customer", "deleted": True}
    assert http.get(tenant.base_url + f"/v1/customers/{cid}", headers=key).status_code == 404
    thing = http.post(tenant.base_url + "/things", json={"label": "x"}, headers=key)
    assert thing.status_code == 201  # documented 201
    gone = http.delete(tenant.base_url + f"/things/{thing.json()['id']}", headers=key)
    assert (gone.status_code, gone.content) == (204, b"")


def test_lists_named_by_their_whole_path_are_both_served(http, vendor):
    tenant, key = vendor
    plain = http.get(tenant.base_url + "/v1/accounts", headers=key).json()["data"]
    linked = http.get(tenant.base_url + "/v1/financial_connections/accounts", headers=key).json()["data"]
    assert (len(plain), len(linked)) == (3, 2)


def test_nested_records_are_found_by_the_last_path_parameter(http, vendor):
    tenant, key = vendor
    ssids = http.get(tenant.base_url + "/networks/N_1/ssids", headers=key).json()
    assert isinstance(ssids, list) and len(ssids) == 4
    number = ssids[1]["number"]
    one = http.get(tenant.base_url + f"/networks/N_1/ssids/{number}", headers=key)
    assert one.status_code == 200 and one.json() == ssids[1]
    renamed = http.put(tenant.base_url + f"/networks/N_1/ssids/{number}", json={"name": "guest"}, headers=key)
    assert renamed.json()["name"] == "guest"


def test_bare_arrays_page_by_page_with_a_link_header(http, vendor):
    tenant, key = vendor
    url, ids, pages = tenant.base_url + "/repos?per_page=30", [], 0
    while True:
        response = http.get(url, headers=key)
        ids += [r["id"] for r in response.json()]
        pages += 1
        link = response.headers.get("link")
        if not link:
            break
        url = re.match(r'<([^>]*)>; rel="next"', link).group(1)  # absolute, as GitHub sends it
        assert url.startswith(tenant.base_url + "/repos?")
    assert pages == 3 and len(ids) == 65 == len(set(ids))


def test_nested_next_cursors_are_written_where_documented(http, vendor):
    tenant, key = vendor
    first = http.get(tenant.base_url + "/things", params={"limit": 5}, headers=key).json()
    assert set(first) == {"items", "_metadata"} and len(first["items"]) == 5
    rest = http.get(
        tenant.base_url + "/things", params={"cursor": first["_metadata"]["next"]}, headers=key
    ).json()
    assert len(rest["items"]) == 2 and rest["_metadata"]["next"] is None


def test_every_success_conforms_to_the_contract(http, vendor):
    """Successful answers of every collection conform (errors: this contract documents none)."""
    tenant, key = vendor
    calls = {
        "/v1/customers": {"limit": 2},
        "/v1/accounts": {},
        "/networks/N_2/ssids": {},
        "/repos": {"per_page": 2},
    }
    for path, params in {**calls, "/things": {"limit": 2}}.items():
        assert http.get(tenant.base_url + path, params=params, headers=key).status_code == 200
    http.post(tenant.base_url + "/things", json={"label": "y"}, headers=key)
    log = [e for e in tenant.requests() if e.status < 400]
    assert len(log) >= 6
    assert [(e.method, e.path, e.response_violations) for e in log if e.response_violations] == []


def test_an_enum_error_type_takes_its_class_name_not_a_random_value():
    """Stripe's `error.type` is an enum; a 404 must say invalid_request_error, or the SDK raises the
    exception of whatever value the generator drew (IdempotencyError, CardError ...)."""
    import jsonschema

    from harness.sandbox.problems import _fill

    schema = {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "type": {
                        "enum": ["api_error", "card_error", "idempotency_error", "invalid_request_error"]
                    },
                    "message": {"type": "string"},
                },
            }
        },
    }
    valid = jsonschema.Draft202012Validator(schema).is_valid
    for status, expected in ((404, "invalid_request_error"), (503, "api_error")):
        body = {"error": {"type": "idempotency_error", "message": "generated"}}
        _fill(body, {"title": "Not Found", "detail": "no customers record"}, status, valid, body)
        assert body["error"]["type"] == expected
        assert body["error"]["message"] == "no customers record"
