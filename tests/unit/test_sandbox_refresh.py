"""Authorization code contracts: the token endpoint exchanges refresh tokens, rotating them, and
a rotated one presented again is refused, recorded, and ends the grant (OAuth 2.1 section 4.3.1)."""

from __future__ import annotations

import pytest
import yaml

import harness.runtime
from harness.contract import default_contract_path, load


@pytest.fixture(scope="module")
def refresh_sandbox(tmp_path_factory):
    document = yaml.safe_load(default_contract_path().read_text())
    flows = document["components"]["securitySchemes"]["oauth2"]["flows"]
    flows["authorizationCode"] = {**flows.pop("clientCredentials"), "authorizationUrl": "/oauth/authorize"}
    token = document["components"]["schemas"]["TokenResponse"]
    token["properties"]["refresh_token"] = {"type": "string"}  # a contract that rotates documents it
    path = tmp_path_factory.mktemp("contract") / "refresh.openapi.yaml"
    path.write_text(yaml.safe_dump(document))
    with harness.runtime.embedded(load(path)) as handle:
        yield handle


def refresh(http, tenant, token):
    data = {
        "grant_type": "refresh_token",
        "refresh_token": token,
        "client_id": tenant.client_id,
        "client_secret": tenant.client_secret,
    }
    return http.post(tenant.token_url, data=data)


def test_each_refresh_rotates_and_a_reused_refresh_token_is_refused_and_recorded(http, refresh_sandbox):
    tenant = refresh_sandbox.new_tenant(seed=3, sizes={"contacts": 5})
    first = tenant.connector_config([])["refresh_token"]
    answer = refresh(http, tenant, first)
    assert answer.status_code == 200, answer.text
    second = answer.json()["refresh_token"]
    assert second != first
    api = http.get(
        tenant.base_url + "/v1/contacts", headers={"Authorization": f"Bearer {answer.json()['access_token']}"}
    )
    assert api.status_code == 200
    assert refresh(http, tenant, second).status_code == 200  # the rotated one works once
    reused = refresh(http, tenant, first)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert "already used" in reused.json()["error_description"]
    log = tenant.requests().token()
    assert [e.auth.grant for e in log] == ["refresh_token"] * 3
    assert log[-1].auth.error == "refresh_token_reused"
    # the grant is revoked: even the newest refresh token and the access tokens stop working
    assert refresh(http, tenant, second).json()["error"] == "invalid_grant"
    again = http.get(
        tenant.base_url + "/v1/contacts", headers={"Authorization": f"Bearer {answer.json()['access_token']}"}
    )
    assert again.status_code == 401


def test_an_undeclared_grant_is_refused_with_the_declared_ones_named(http, refresh_sandbox):
    tenant = refresh_sandbox.new_tenant(seed=4, sizes={"contacts": 1})
    data = {"grant_type": "password", "client_id": tenant.client_id, "client_secret": tenant.client_secret}
    answer = http.post(tenant.token_url, data=data)
    assert answer.status_code == 400 and answer.json()["error"] == "unsupported_grant_type"
    assert "refresh_token" in answer.json()["error_description"]
    assert tenant.requests().token()[-1].auth.grant == "password"


def test_each_connector_gets_its_own_refresh_token_and_a_refresh_token_is_no_bearer(http, refresh_sandbox):
    tenant = refresh_sandbox.new_tenant(seed=5, sizes={"contacts": 1})
    one, two = tenant.connector_config([])["refresh_token"], tenant.connector_config([])["refresh_token"]
    assert one != two
    assert refresh(http, tenant, one).status_code == 200 and refresh(http, tenant, two).status_code == 200
    api = http.get(tenant.base_url + "/v1/contacts", headers={"Authorization": f"Bearer {two}"})
    assert api.status_code == 401


def test_a_revoked_client_cannot_refresh(http, refresh_sandbox):
    tenant = refresh_sandbox.new_tenant(seed=6, sizes={"contacts": 1})
    token = tenant.connector_config([])["refresh_token"]
    tenant.revoke(tenant.client_id)
    answer = refresh(http, tenant, token)
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
    assert tenant.requests().token()[-1].auth.error == "revoked_client"


def test_an_api_key_in_the_query_of_a_header_key_contract_is_refused_and_recorded(http, ticketing_contract):
    with harness.runtime.embedded(ticketing_contract) as handle:
        tenant = handle.new_tenant(seed=1, sizes={"tickets": 3})
        key = tenant.connector_config([])["api_key"]
        assert key == tenant.client_secret
        leaked = http.get(tenant.base_url + "/tickets", params={"api_key": key}, headers={"X-API-Key": key})
        assert leaked.status_code == 401
        assert http.get(tenant.base_url + "/tickets", headers={"X-API-Key": key}).status_code == 200
        first = tenant.requests()[0]
        assert first.auth.credential == "query" and first.auth.error == "key_in_query"
        assert key not in first.query_string
