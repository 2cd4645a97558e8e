"""readOnly and writeOnly: an answer never holds a writeOnly property (even a `required` one),
a request never has to carry a readOnly one, and the sandbox serves both that way, with state."""

from __future__ import annotations

import json

from starlette.testclient import TestClient

from harness.contract import load, validate_request, validate_response
from harness.contract.views import rewritten
from harness.sandbox import Sandbox

TEXT = {"type": "string"}
THING = {
    "type": "object",
    "required": ["id", "name", "secret"],
    "properties": {
        "id": {"type": "string", "readOnly": True},
        "name": TEXT,
        "secret": {"$ref": "#/components/schemas/Secret"},  # the mark behind a $ref
        "pin": {"allOf": [{"type": "string", "writeOnly": True}]},  # ... in an allOf branch
        "note": {"anyOf": [{"type": "string", "writeOnly": True}, {"type": "null"}]},  # nullable
    },
}


def _contract(tmp_path):
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "Views", "version": "1"},
        "components": {
            "schemas": {"Thing": THING, "Secret": {"type": "string", "writeOnly": True, "minLength": 4}}
        },
        "paths": {
            "/things": {
                "get": {
                    "operationId": "listThings",
                    "responses": {
                        "200": _ok({"type": "array", "items": {"$ref": "#/components/schemas/Thing"}})
                    },
                },
                "post": {
                    "operationId": "createThing",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}},
                    },
                    "responses": {"201": _ok({"$ref": "#/components/schemas/Thing"})},
                },
            },
            "/things/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": TEXT}],
                "get": {
                    "operationId": "getThing",
                    "responses": {
                        "200": _ok({"$ref": "#/components/schemas/Thing"}),
                        "404": {"description": "no"},
                    },
                },
                "delete": {"operationId": "deleteThing", "responses": {"204": {"description": "gone"}}},
            },
        },
    }
    path = tmp_path / "views.json"
    path.write_text(json.dumps(doc))
    return load(path)


def _ok(schema):
    return {"description": "ok", "content": {"application/json": {"schema": schema}}}


def test_a_document_without_marks_is_its_own_view():
    doc = {"components": {"schemas": {"A": {"properties": {"a": TEXT}, "required": ["a"]}}}}
    assert rewritten(doc, "writeOnly", forbid=True) is doc


def test_the_answers_view_forbids_write_only_properties_and_leaves_the_rest_shared(tmp_path):
    contract = _contract(tmp_path)
    seen = contract.for_answers.document["components"]["schemas"]
    assert seen["Thing"]["required"] == ["id", "name"]
    for name in ("secret", "pin", "note"):
        assert seen["Thing"]["properties"][name] == {"not": {}}
    assert seen["Secret"] is contract.document["components"]["schemas"]["Secret"]  # unchanged: shared
    assert contract.document["components"]["schemas"]["Thing"]["required"] == ["id", "name", "secret"]
    assert contract.for_answers.for_answers is contract.for_answers


def test_an_answer_with_a_write_only_property_breaks_the_contract_and_one_without_conforms(tmp_path):
    contract = _contract(tmp_path)
    op = contract.operation("getThing")
    json_type = {"content-type": "application/json"}
    bare = json.dumps({"id": "t1", "name": "n"}).encode()
    leaky = json.dumps({"id": "t1", "name": "n", "secret": "hunter22"}).encode()
    assert validate_response(contract, op, 200, json_type, bare) == []
    found = validate_response(contract, op, 200, json_type, leaky)
    assert [v.pointer for v in found] == ["/body/secret"]


def test_the_sandbox_takes_write_only_fields_without_read_only_ones_and_never_answers_them(tmp_path):
    contract = _contract(tmp_path)
    with TestClient(Sandbox(contract, admin_token="adm").app) as http:
        made = http.post(
            "/_sandbox/tenants",
            json={"seed": 2, "sizes": {"things": 3}},
            headers={"Authorization": "Bearer adm"},
        )
        base = made.json()["base_url"]
        created = http.post(f"{base}/things", json={"name": "n", "secret": "hunter22", "pin": "1234"})
        assert created.status_code == 201, created.text  # no readOnly `id` asked of the client
        body = created.json()
        assert body["name"] == "n" and not {"secret", "pin", "note"} & set(body)
        for answer in (http.get(f"{base}/things/{body['id']}"), http.get(f"{base}/things")):
            assert answer.status_code == 200
            assert "hunter22" not in answer.text and '"secret"' not in answer.text
            op = contract.operation("getThing" if answer.url.path.endswith(body["id"]) else "listThings")
            assert validate_response(contract, op, 200, dict(answer.headers), answer.content) == []
        assert http.delete(f"{base}/things/{body['id']}").status_code == 204
        assert http.get(f"{base}/things/{body['id']}").status_code == 404  # real state


def test_a_request_body_that_fits_more_than_one_branch_of_a_one_of_is_accepted(tmp_path):
    """Zoom's `PATCH /accounts/{id}/settings` body is a oneOf of objects with no required
    property: every body fits them all, which strict oneOf refuses. Requests read it as anyOf;
    a body that fits no branch is still refused, and answers keep oneOf as written."""
    settings = {
        "oneOf": [
            {"type": "object", "properties": {"chat": {"type": "boolean"}}},
            {"type": "object", "properties": {"security": {"type": "boolean"}}},
        ]
    }
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "Settings", "version": "1"},
        "paths": {
            "/settings": {
                "patch": {
                    "operationId": "settings",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": settings}}},
                    "responses": {"204": {"description": "done"}},
                }
            }
        },
    }
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(doc))
    contract = load(path)
    json_type = {"content-type": "application/json"}
    assert validate_request(contract, "PATCH", "/settings", {}, json_type, b'{"chat": true}')[1] == []
    assert validate_request(contract, "PATCH", "/settings", {}, json_type, b'"x"')[1] != []
    assert (
        "oneOf"
        in contract.for_answers.document["paths"]["/settings"]["patch"]["requestBody"]["content"][
            "application/json"
        ]["schema"]
    )


def test_a_ref_that_points_through_a_one_of_still_resolves_in_the_requests_view(tmp_path):
    """DigitalOcean's documents point into other operations' schemas, through their `oneOf`
    (`#/paths/~1v2~1certificates/post/requestBody/.../schema/oneOf/0/allOf/0`): reading that
    `oneOf` as `anyOf` for requests must move the pointer along, or validating a request body
    fails on a pointer to nowhere (a 500)."""
    name = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
    first = "#/paths/~1certs/post/requestBody/content/application~1json/schema/oneOf/0"
    doc = {
        "openapi": "3.0.0",
        "info": {"title": "Through", "version": "1"},
        "paths": {
            "/certs": {
                "post": {
                    "operationId": "createCert",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"oneOf": [{"allOf": [name]}, TEXT]}}},
                    },
                    "responses": {"202": {"description": "ok"}},
                }
            },
            "/keys/{id}": {
                "put": {
                    "operationId": "putKey",
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": TEXT}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": f"{first}/allOf/0"}}},
                    },
                    "responses": {"202": {"description": "ok"}},
                }
            },
        },
    }
    path = tmp_path / "through.json"
    path.write_text(json.dumps(doc))
    contract = load(path)
    json_type = {"content-type": "application/json"}
    assert validate_request(contract, "PUT", "/keys/k1", {}, json_type, b'{"name": "n"}')[1] == []
    refused = validate_request(contract, "PUT", "/keys/k1", {}, json_type, b'{"other": 1}')[1]
    assert [v.pointer for v in refused] == ["/body"]  # still the schema it named: `name` required
    seen = contract.for_requests.document["paths"]["/keys/{id}"]["put"]["requestBody"]
    moved = first.replace("oneOf", "anyOf") + "/allOf/0"
    assert seen["content"]["application/json"]["schema"]["$ref"] == moved
    assert doc["paths"]["/keys/{id}"]["put"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": f"{first}/allOf/0"
    }
