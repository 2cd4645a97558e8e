"""The control API is validated by its own contract (contracts/sandbox-control.openapi.yaml): a
request that breaks it is refused with the contract's problem+json, naming the field."""

from __future__ import annotations

import pytest

from harness.sandbox.control import HANDLERS, control_contract

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def tenant(sandbox):
    return sandbox.new_tenant(seed=7, sizes={"contacts": 3})


def refused(response, status: int, pointer: str, named: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and pointer in [e["pointer"] for e in body["errors"]]
    assert named in body["detail"]
    return body


@pytest.mark.parametrize(
    ("method", "path", "request_args", "status", "pointer", "named"),
    [
        ("POST", "/tenants", {"json": {"seed": -1}}, 422, "/body/seed", "seed"),
        ("POST", "/tenants", {"json": {"seed": 1, "colour": "red"}}, 422, "/body", "colour"),
        ("POST", "/tenants", {"json": {"token_ttl": "1h"}}, 422, "/body/token_ttl", "token_ttl"),
        ("POST", "/tenants", {"json": {"rate_limit": {"rate": 0}}}, 422, "/body/rate_limit", "rate_limit"),
        ("POST", "/tenants", {"json": {"sizes": {"contacts": -3}}}, 422, "/body/sizes/contacts", "contacts"),
        ("POST", "/tenants", {"content": b"[1, 2]"}, 400, "/body", "object"),
        ("POST", "/tenants", {"content": b"{not json"}, 400, "/body", "JSON"),
        ("GET", "/tenants/{t}/requests", {"params": {"since": "-1"}}, 400, "/query/since", "since"),
        ("GET", "/tenants/{t}/requests", {"params": {"since": ["1", "2"]}}, 400, "/query/since", "since"),
        ("GET", "/tenants/{t}/changes", {"params": {"colour": "red"}}, 400, "/query/colour", "colour"),
        ("GET", "/tenants/{t}/records/contacts", {"params": {"limit": "0"}}, 400, "/query/limit", "limit"),
        ("POST", "/tenants/{t}/clock", {"json": {"advance": -1}}, 422, "/body/advance", "advance"),
        ("POST", "/tenants/{t}/churn", {"json": {"n": "ten"}}, 422, "/body/n", "/body/n"),
        ("POST", "/tenants/{t}/faults", {"json": {"rules": [{"kind": "status", "status": 418}]}}, 422,
         "/body/rules/0/status", "/body/rules/0/status"),
        ("POST", "/tenants/{t}/revoke", {"json": {"client_id": 5}}, 422, "/body/client_id", "client_id"),
        ("POST", "/tenants/{t}/webhooks", {"json": {"types": []}}, 422, "/body", "url"),
        ("POST", "/tenants/{t}/webhooks", {"json": {"url": "http://127.0.0.1:9/", "secret": "nope"}}, 422,
         "/body/secret", "secret"),
    ],
)  # fmt: skip
def test_a_request_that_breaks_the_control_contract_is_refused_naming_the_field(
    sandbox, tenant, method, path, request_args, status, pointer, named
):
    before = sandbox.admin.get(f"/tenants/{tenant.id}").json()
    response = sandbox.admin.request(method, path.format(t=tenant.id), **request_args)
    refused(response, status, pointer, named)
    assert sandbox.admin.get(f"/tenants/{tenant.id}").json() == before  # nothing was done


def test_what_the_schema_cannot_say_is_still_refused_by_the_handler_with_its_field(sandbox, tenant):
    churn = sandbox.admin.post(f"/tenants/{tenant.id}/churn", json={"collections": ["widgets"]})
    assert "contacts" in refused(churn, 422, "/body/collections", "widgets")["detail"]
    events = sandbox.admin.post(
        f"/tenants/{tenant.id}/webhooks", json={"url": "http://x/", "types": ["nope"]}
    )
    refused(events, 422, "/body/types", "nope")
    assert sandbox.admin.get(f"/tenants/{tenant.id}/webhooks").json()["data"] == []


def test_the_admin_token_is_asked_for_before_the_request_is_judged(http, sandbox):
    response = http.post(sandbox.base_url + "/_sandbox/tenants", json={"seed": "not a seed"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert http.get(sandbox.base_url + "/_sandbox/health").json()["status"] == "ok"  # health is public


def test_unknown_paths_and_methods_are_the_contracts_404_and_405(sandbox, tenant):
    missing = sandbox.admin.get("/widgets")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith(PROBLEM)
    assert sandbox.admin.get("/tenants/ten_000000000000").status_code == 404
    wrong = sandbox.admin.put(f"/tenants/{tenant.id}/faults", json={})
    assert wrong.status_code == 405
    assert set(wrong.headers["allow"].split(", ")) == {"GET", "POST", "DELETE"}


def test_valid_bodies_are_applied_with_their_documented_defaults(sandbox, tenant):
    rules = sandbox.admin.post(f"/tenants/{tenant.id}/faults", json={"rules": [{"kind": "status"}]})
    assert rules.status_code == 200, rules.text
    assert rules.json()["rules"][0] | {"seen": 0} == {
        "kind": "status", "operation": "*", "after": 0, "times": 1, "probability": 1.0, "status": 503,
        "latency_ms": 200, "retry_after": 1, "churn": 10, "seen": 0, "fired": 0,
    }  # fmt: skip
    assert sandbox.admin.delete(f"/tenants/{tenant.id}/faults").status_code == 204
    made = sandbox.admin.post(f"/tenants/{tenant.id}/churn", content=b"")  # no body: every default
    assert made.status_code == 200 and len(made.json()["data"]) == 10


def test_every_operation_of_the_control_contract_has_a_handler():
    assert {op.operation_id for op in control_contract().operations} == set(HANDLERS)
