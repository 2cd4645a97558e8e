"""Inputs real vendor contracts have that the bundled CRM does not (issue 12): a 204 documented
with a body, a token endpoint outside the contract's paths, deepObject and delimited query
parameters, non-UTF-8 request charsets, records scoped by their parent, form field names that
differ from the schema's. Each shape is copied from the published spec named beside it."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from harness.contract import load, validate_response
from harness.sandbox import Sandbox

KEY = {"type": "apiKey", "in": "header", "name": "X-Key"}
TEXT = {"type": "string"}
CONTRACT: dict = {
    "openapi": "3.0.3",
    "info": {"title": "Vendor inputs", "version": "1"},
    "servers": [{"url": "https://api.example.com/v2"}],
    "security": [{"key": []}],
    "components": {"securitySchemes": {"key": KEY}},
    "paths": {
        # Jira's PUT /rest/api/3/announcementBanner, Zoom's PUT /accounts/{accountId}/owner
        "/banner": {
            "put": {
                "operationId": "setBanner",
                "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {
                    "204": {"description": "set", "content": {"application/json": {"schema": {}}}},
                    "400": {"description": "bad"},
                },
            }
        },
    },
}


@pytest.fixture(scope="module")
def contract(tmp_path_factory):
    path = tmp_path_factory.mktemp("vendor") / "vendor.json"
    path.write_text(json.dumps(CONTRACT))
    return load(path)


@pytest.fixture(scope="module")
def client(contract):
    sandbox = Sandbox(contract, admin_token="adm")
    with TestClient(sandbox.app) as http:
        created = http.post("/_sandbox/tenants", json={"seed": 5}, headers={"Authorization": "Bearer adm"})
        assert created.status_code == 201, created.text
        yield http, created.json()


def _url(created, path):
    return f"/t/{created['id']}/v2{path}"


def test_a_204_documented_with_a_json_body_answers_the_type_and_no_body(client, contract):
    http, created = client
    response = http.put(_url(created, "/banner"), json={}, headers={"X-Key": created["client_secret"]})
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["content-type"].startswith("application/json")
    op = contract.operation("setBanner")
    assert validate_response(contract, op, 204, dict(response.headers), b"") == []


def test_a_body_on_a_204_breaks_the_contract_whatever_its_schema(contract):
    op = contract.operation("setBanner")
    found = validate_response(contract, op, 204, {"content-type": "application/json"}, b"{}")
    assert [v.pointer for v in found] == ["/body"] and "RFC 9110" in found[0].message
    wrong = validate_response(contract, op, 204, {"content-type": "text/html"}, b"")
    assert [v.pointer for v in wrong] == ["/headers/content-type"]
