"""The sandbox, driven the way users drive it: the embedded runtime over loopback HTTP."""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest

import harness.runtime

PROBLEM = "application/problem+json"
parse = datetime.fromisoformat
SIZES = {"contacts": 250, "companies": 20, "deals": 10}


@pytest.fixture(scope="module")
def tenant(sandbox):
    return sandbox.new_tenant(seed=7, sizes=SIZES, token_ttl=900)


@pytest.fixture(scope="module")
def auth(http, tenant):
    return bearer(http, tenant)


def request_token(http, tenant, **form):
    data = {"grant_type": "client_credentials", "client_id": tenant.client_id}
    data["client_secret"] = tenant.client_secret
    data.update(form)
    return http.post(tenant.token_url, data={k: v for k, v in data.items() if v is not None})


def bearer(http, tenant, scope=None):
    response = request_token(http, tenant, scope=scope)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def follow_cursors(http, tenant, headers, path, **params):
    pages, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = http.get(tenant.base_url + path, params=query, headers=headers)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        cursor = pages[-1]["next_cursor"]
        if cursor is None:
            return pages


def assert_problem(response, status):
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    return body


# -- 1. token endpoint (RFC 6749) ----------------------------------------------------------------


def test_form_and_basic_credentials_both_get_a_bearer_token(http, tenant):
    form = request_token(http, tenant)
    basic = http.post(
        tenant.token_url,
        data={"grant_type": "client_credentials"},
        auth=(tenant.client_id, tenant.client_secret),
    )
    for response in (form, basic):
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        assert response.json()["token_type"] == "Bearer"
        assert response.json()["expires_in"] == 900
    assert form.json()["access_token"] != basic.json()["access_token"]


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"client_secret": "cs_wrong"}, 401, "invalid_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": None}, 400, "invalid_request"),
    ],
)
def test_token_requests_are_refused_as_rfc_6749_says(http, tenant, form, status, error):
    response = request_token(http, tenant, **form)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"


def test_a_cursor_the_sandbox_never_issued_is_a_400_where_the_list_documents_one(http, tenant, auth):
    """The bundled contract's list documents 400: a forged cursor is refused there (elsewhere,
    where a list documents no client error, it is the end of the list: test_sandbox_shapes)."""
    response = http.get(f"{tenant.base_url}/v1/contacts", params={"cursor": "forged"}, headers=auth)
    assert response.status_code == 400 and response.json()["errors"][0]["pointer"] == "/query/cursor"


def test_a_scope_the_client_lacks_is_an_invalid_scope(http, sandbox):
    narrow = sandbox.new_tenant(seed=1, scopes=["contacts:read"])
    assert request_token(http, narrow, scope="contacts:read").status_code == 200
    response = request_token(http, narrow, scope="deals:read")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


# -- 2. bearer auth (RFC 6750) -------------------------------------------------------------------


def test_no_token_and_unknown_token_are_401_with_a_bearer_challenge(http, tenant):
    missing = http.get(tenant.base_url + "/v1/contacts")
    assert_problem(missing, 401)
    assert missing.headers["www-authenticate"].startswith("Bearer")
    unknown = http.get(tenant.base_url + "/v1/contacts", headers={"Authorization": "Bearer at_" + "x" * 40})
    assert_problem(unknown, 401)
    assert 'error="invalid_token"' in unknown.headers["www-authenticate"]


def test_an_expired_token_is_refused_and_logged_as_expired(http, sandbox):
    short = sandbox.new_tenant(seed=2, sizes={"contacts": 3}, token_ttl=1)
    headers = bearer(http, short)
    time.sleep(1.2)
    response = http.get(short.base_url + "/v1/contacts", headers=headers)
    assert_problem(response, 401)
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert short.requests()[-1].auth.error == "expired_token"


def test_a_token_without_the_operations_scope_is_403_insufficient_scope(http, tenant):
    headers = bearer(http, tenant, scope="contacts:read")
    assert http.get(tenant.base_url + "/v1/contacts", headers=headers).status_code == 200
    response = http.get(tenant.base_url + "/v1/companies", headers=headers)
    assert_problem(response, 403)
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


@pytest.mark.parametrize("param", ["access_token", "bearer", "whatever"])
def test_a_token_in_the_query_string_is_refused_and_never_logged(http, sandbox, param):
    fresh = sandbox.new_tenant(seed=3, sizes={"contacts": 3})
    token = bearer(http, fresh)["Authorization"].split(" ", 1)[1]
    response = http.get(fresh.base_url + "/v1/contacts", params={param: token})
    assert response.status_code in (400, 401)
    entry = fresh.requests()[-1]
    if param != "whatever":  # a name the sandbox does not know as a token is a contract violation
        assert entry.auth.credential == "query"
    assert list(entry.query[param]) != [token]
    assert token not in json.dumps([e.summary() for e in fresh.requests()])
    assert token not in str(list(fresh.requests()))


# -- 3.-5. paging, updated_since, items ----------------------------------------------------------


def test_following_next_cursor_returns_every_record_once_in_order(http, tenant, auth):
    pages = follow_cursors(http, tenant, auth, "/v1/contacts", limit=37)
    ids = [record["id"] for page in pages for record in page["data"]]
    assert ids == [record["id"] for record in tenant.records("contacts")]
    assert len(ids) == 250
    assert len(pages) == 7
    assert pages[-1]["next_cursor"] is None


def test_a_tampered_or_foreign_cursor_is_a_400(http, sandbox, tenant, auth):
    url = tenant.base_url + "/v1/contacts"
    cursor = http.get(url, params={"limit": 5}, headers=auth).json()["next_cursor"]
    tampered = cursor[:3] + ("A" if cursor[3] != "A" else "B") + cursor[4:]
    body = assert_problem(http.get(url, params={"cursor": tampered}, headers=auth), 400)
    assert body["errors"][0]["pointer"] == "/query/cursor"
    other = sandbox.new_tenant(seed=7, sizes=SIZES)
    foreign = http.get(
        other.base_url + "/v1/contacts", params={"cursor": cursor}, headers=bearer(http, other)
    )
    assert_problem(foreign, 400)


def test_updated_since_returns_exactly_the_records_changed_since(http, tenant, auth):
    truth = tenant.records("contacts")
    since = truth[120]["updated_at"]
    expected = [r["id"] for r in truth if parse(r["updated_at"]) >= parse(since)]
    pages = follow_cursors(http, tenant, auth, "/v1/contacts", limit=50, updated_since=since)
    assert [record["id"] for page in pages for record in page["data"]] == expected
    assert expected[0] == truth[120]["id"]


def test_updated_since_with_fractions_of_a_second_excludes_earlier_records(http, tenant, auth):
    truth = tenant.records("contacts")
    since = truth[120]["updated_at"].replace("Z", ".500000+00:00")
    pages = follow_cursors(http, tenant, auth, "/v1/contacts", limit=200, updated_since=since)
    ids = [record["id"] for page in pages for record in page["data"]]
    assert truth[120]["id"] not in ids
    assert ids == [r["id"] for r in truth if parse(r["updated_at"]) >= parse(since)]


def test_an_item_is_its_ground_truth_record(http, tenant, auth):
    truth = tenant.records("contacts")
    record = truth[42]
    response = http.get(f"{tenant.base_url}/v1/contacts/{record['id']}", headers=auth)
    assert response.status_code == 200
    assert response.json() == record
    unknown = "con_ZZZZZZZZZZZZZZZZ"
    assert unknown not in {r["id"] for r in truth}
    assert_problem(http.get(f"{tenant.base_url}/v1/contacts/{unknown}", headers=auth), 404)
    malformed = assert_problem(http.get(f"{tenant.base_url}/v1/contacts/con_123", headers=auth), 400)
    assert [e["pointer"] for e in malformed["errors"]] == ["/path/id"]


# -- 6.-7. contract violations, response conformance ---------------------------------------------


def test_requests_that_break_the_contract_are_refused_and_logged(http, tenant, auth):
    body = assert_problem(http.get(tenant.base_url + "/v1/contacts?limit=1000", headers=auth), 400)
    assert body["errors"][0]["pointer"] == "/query/limit"
    assert [v.pointer for v in tenant.requests()[-1].violations] == ["/query/limit"]
    assert_problem(http.get(tenant.base_url + "/v1/widgets", headers=auth), 404)
    contact = tenant.records("contacts")[0]["id"]
    assert_problem(http.put(f"{tenant.base_url}/v1/contacts/{contact}", headers=auth, json={}), 405)


def test_every_response_the_sandbox_gives_conforms_to_the_contract(http, sandbox):
    mixed = sandbox.new_tenant(seed=11, sizes={"contacts": 30, "companies": 5})
    url = mixed.base_url
    headers = bearer(http, mixed)
    request_token(http, mixed, client_secret="nope")
    request_token(http, mixed, grant_type="password")
    follow_cursors(http, mixed, headers, "/v1/contacts", limit=7)
    follow_cursors(http, mixed, headers, "/v1/companies")
    contact = mixed.records("contacts")[3]["id"]
    http.get(f"{url}/v1/contacts/{contact}", headers=headers)
    http.get(f"{url}/v1/contacts/con_ZZZZZZZZZZZZZZZZ", headers=headers)
    http.get(f"{url}/v1/contacts/bad", headers=headers)
    http.get(f"{url}/v1/contacts", params={"limit": 0}, headers=headers)
    http.get(f"{url}/v1/contacts", params={"cursor": "nonsense"}, headers=headers)
    http.get(f"{url}/v1/events", headers=headers)
    http.get(f"{url}/v1/contacts")
    http.get(f"{url}/v1/companies", headers=bearer(http, mixed, scope="contacts:read"))
    log = mixed.requests()
    assert {entry.status for entry in log} >= {200, 400, 401, 403, 404}
    assert [(e.seq, e.response_violations) for e in log if e.response_violations] == []


# -- 8.-9. isolation, control API ----------------------------------------------------------------


def test_tenants_are_isolated(http, sandbox, tenant, auth):
    other = sandbox.new_tenant(seed=8, sizes=SIZES)
    assert_problem(http.get(other.base_url + "/v1/contacts", headers=auth), 401)
    before = len(tenant.requests())
    http.get(other.base_url + "/v1/contacts", headers=bearer(http, other))
    assert len(tenant.requests()) == before
    assert [e.status for e in other.requests()] == [401, 200, 200]
    assert other.records("contacts") != tenant.records("contacts")
    same_seed = sandbox.new_tenant(seed=7, sizes=SIZES)
    assert same_seed.records("contacts") == tenant.records("contacts")


def test_the_control_api_needs_the_admin_token(http, sandbox, tenant, auth):
    control = sandbox.base_url + "/_sandbox"
    assert http.post(control + "/tenants", json={}).status_code == 401
    assert http.post(control + "/tenants", json={}, headers=auth).status_code == 401
    assert http.get(f"{control}/tenants/{tenant.id}/requests", headers=auth).status_code == 401
    health = http.get(control + "/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"


def test_a_deleted_tenant_is_gone(http, sandbox):
    doomed = sandbox.new_tenant(seed=4, sizes={"contacts": 3})
    headers = bearer(http, doomed)
    doomed.delete()
    assert_problem(http.get(doomed.base_url + "/v1/contacts", headers=headers), 404)
    assert sandbox.admin.get(f"/tenants/{doomed.id}").status_code == 404


def test_bad_tenant_specs_are_refused(sandbox):
    unknown = sandbox.admin.post("/tenants", json={"seed": 1, "sizes": {"widgets": 3}})
    body = assert_problem(unknown, 422)
    assert all(name in body["detail"] for name in ("widgets", "contacts", "companies", "deals"))
    assert_problem(sandbox.admin.post("/tenants", content=b"{not json"), 400)


# -- 10. other contracts, no code changes --------------------------------------------------------


def test_ticketing_contract_api_key_and_offset_paging(http, ticketing_contract):
    with harness.runtime.embedded(ticketing_contract) as handle:
        tenant = handle.new_tenant(seed=5, sizes={"tickets": 53})
        assert tenant.base_url.endswith("/api/2.0")
        key = {"X-API-Key": tenant.client_secret}
        ids, offset = [], 0
        while True:
            response = http.get(
                tenant.base_url + "/tickets", params={"offset": offset, "limit": 10}, headers=key
            )
            assert response.status_code == 200
            body = response.json()
            assert body.keys() == {"items", "total", "offset"}
            assert (body["total"], body["offset"]) == (53, offset)
            ids += [ticket["id"] for ticket in body["items"]]
            offset += 10
            if offset >= body["total"]:
                break
        assert ids == [ticket["id"] for ticket in tenant.records("tickets")]
        refused = http.get(tenant.base_url + "/tickets", headers={"X-API-Key": "nope"})
        assert refused.status_code == 401
        # the contract's own error shape, not problem+json: the sandbox stays contract-true
        assert refused.headers["content-type"] == "application/json"
        assert refused.json().keys() == {"code", "message"}
        assert all(entry.response_violations == () for entry in tenant.requests())


def test_inventory_contract_basic_or_query_key_and_page_paging(http, inventory_contract):
    with harness.runtime.embedded(inventory_contract) as handle:
        tenant = handle.new_tenant(seed=6, sizes={"products": 45})
        assert tenant.base_url.endswith("/v3")
        basic = (tenant.client_id, tenant.client_secret)
        skus, page = [], 1
        while True:
            params = {"page": page, "per_page": 10}
            response = http.get(tenant.base_url + "/products", params=params, auth=basic)
            assert response.status_code == 200
            body = response.json()
            assert body.keys() == {"results", "page", "has_more"}
            assert body["page"] == page
            skus += [product["sku"] for product in body["results"]]
            if not body["has_more"]:
                break
            page += 1
        assert page == 5
        assert skus == [product["sku"] for product in tenant.records("products")]
        by_key = http.get(tenant.base_url + "/products", params={"api_key": tenant.client_secret})
        assert by_key.status_code == 200
        assert http.get(tenant.base_url + "/products", auth=(tenant.client_id, "wrong")).status_code == 401
