"""One behaviour, every runtime: these tests run against the embedded and the container sandbox."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from harness.runtime import SandboxError


@pytest.fixture
def http():
    with httpx.Client(timeout=10) as client:
        yield client


def token(http, tenant) -> dict[str, str]:
    response = http.post(
        tenant.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": tenant.client_id,
            "client_secret": tenant.client_secret,
        },
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_the_handle_names_its_runtime_and_health_names_the_contract(sandbox, request):
    assert sandbox.kind == request.node.callspec.params["sandbox"]
    health = sandbox.health()
    assert health["status"] == "ok"
    assert health["contract"] == "Acme CRM Platform API"


def test_tenant_urls_point_at_the_address_the_handle_uses(sandbox):
    """The sandbox builds tenant URLs from the request's Host: for a container, the mapped port."""
    tenant = sandbox.new_tenant(seed=1, sizes={"contacts": 1})
    assert urlsplit(tenant.base_url).netloc == urlsplit(sandbox.base_url).netloc
    assert tenant.base_url.startswith(f"{sandbox.base_url}/t/{tenant.id}")
    assert tenant.token_url.startswith(tenant.base_url)


def test_a_client_gets_a_token_and_pages_through_every_contact(sandbox, http):
    tenant = sandbox.new_tenant(seed=11, sizes={"contacts": 25})
    headers = token(http, tenant)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        response = http.get(tenant.base_url + "/v1/contacts", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [record["id"] for record in page["data"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [record["id"] for record in tenant.records("contacts")]
    assert len(set(seen)) == 25


def test_the_request_log_records_what_the_client_did(sandbox, http):
    tenant = sandbox.new_tenant(seed=3, sizes={"contacts": 2})
    headers = token(http, tenant)
    assert http.get(tenant.base_url + "/v1/contacts", headers=headers).status_code == 200
    assert (
        http.get(tenant.base_url + "/v1/contacts", params={"limit": "x"}, headers=headers).status_code == 400
    )
    log = tenant.requests()
    assert [(e.method, e.status) for e in log[-3:]] == [("POST", 200), ("GET", 200), ("GET", 400)]
    assert log[-1].violations, "the request that broke the contract is flagged in the log"


def test_tenants_are_isolated(sandbox, http):
    first = sandbox.new_tenant(seed=1, sizes={"contacts": 2})
    second = sandbox.new_tenant(seed=1, sizes={"contacts": 2})
    response = http.get(second.base_url + "/v1/contacts", headers=token(http, first))
    assert response.status_code == 401


def test_the_control_api_refuses_a_wrong_admin_token(sandbox, http):
    response = http.post(
        sandbox.base_url + "/_sandbox/tenants", json={"seed": 1}, headers={"Authorization": "Bearer wrong"}
    )
    assert response.status_code == 401


def test_a_deleted_tenant_is_gone(sandbox):
    tenant = sandbox.new_tenant(seed=2)
    tenant.delete()
    with pytest.raises(SandboxError, match="404"):
        tenant.requests()
