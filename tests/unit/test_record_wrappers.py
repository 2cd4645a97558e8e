"""Records the contract wraps in a property (issue 12, python-asana): Asana's published spec
answers every single record as `{"data": {...}}` and takes writes the same way, and its record
schemas are `allOf` compositions whose id (`gid`) sits in a shared part. The shapes below are
copied from `api/asana.com.json`; Box's `assign_to` is the object beside the fields that must
not be taken for the record."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from starlette.testclient import TestClient

from harness.contract import load, validate_response
from harness.sandbox import Sandbox

TEXT = {"type": "string"}
NOT_FOUND = {"description": "not found"}


def _data(ref: str, array: bool = False) -> dict:
    inner = {"type": "array", "items": {"$ref": ref}} if array else {"$ref": ref}
    return {"type": "object", "properties": {"data": inner}}


def _json(schema: dict, description: str = "ok") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


TASK = "#/components/schemas/TaskResponse"
# Box's `assign_to`: an object requiring its id, beside the fields (it names another record; a
# record's own id is the server's or the path's)
REFERENCE = {"type": "object", "required": ["id", "type"], "properties": {"id": TEXT, "type": TEXT}}
CONTRACT: dict = {
    "openapi": "3.0.0",
    "info": {"title": "Wrapped records", "version": "1.0"},
    "servers": [{"url": "https://app.example.com/api/1.0"}],
    "security": [{"token": []}],
    "components": {
        "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "AsanaResource": {
                "type": "object",
                "properties": {
                    "gid": {**TEXT, "readOnly": True, "example": "12345"},
                    "resource_type": {**TEXT, "readOnly": True},
                },
            },
            "TaskCompact": {
                "allOf": [
                    {"$ref": "#/components/schemas/AsanaResource"},
                    {"type": "object", "properties": {"name": TEXT}},
                ]
            },
            "TaskResponse": {
                "allOf": [
                    {"$ref": "#/components/schemas/TaskCompact"},
                    {"type": "object", "properties": {"notes": TEXT}},
                ]
            },
            "EmptyResponse": {"type": "object"},
            "Ref": REFERENCE,
        },
    },
    "paths": {
        "/tasks": {
            "get": {
                "operationId": "getTasks",
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                    {"name": "offset", "in": "query", "schema": TEXT},
                ],
                "responses": {"200": _json(_data("#/components/schemas/TaskCompact", array=True))},
            },
            "post": {
                "operationId": "createTask",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _data(TASK)}}},
                "responses": {"201": _json(_data(TASK), "created")},
            },
        },
        "/tasks/{task_gid}": {
            "parameters": [{"name": "task_gid", "in": "path", "required": True, "schema": TEXT}],
            "get": {
                "operationId": "getTask",
                "responses": {"200": _json(_data(TASK)), "404": NOT_FOUND},
            },
            "put": {
                "operationId": "updateTask",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _data(TASK)}}},
                "responses": {"200": _json(_data(TASK)), "404": NOT_FOUND},
            },
            "delete": {
                "operationId": "deleteTask",
                "responses": {"200": _json(_data("#/components/schemas/EmptyResponse")), "404": NOT_FOUND},
            },
        },
        # Box's POST /legal_hold_policy_assignments: a reference object beside the fields
        "/assignments": {
            "get": {
                "operationId": "getAssignments",
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "entries": {"type": "array", "items": {"$ref": "#/components/schemas/Ref"}}
                            },
                        }
                    )
                },
            },
            "post": {
                "operationId": "createAssignment",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "policy_id": TEXT,
                                    "assign_to": REFERENCE,
                                },
                            }
                        }
                    }
                },
                "responses": {"201": _json({"$ref": "#/components/schemas/Ref"})},
            },
        },
        "/assignments/{assignment_id}": {
            "get": {
                "operationId": "getAssignment",
                "parameters": [{"name": "assignment_id", "in": "path", "required": True, "schema": TEXT}],
                "responses": {"200": _json({"$ref": "#/components/schemas/Ref"})},
            }
        },
    },
}


@pytest.fixture(scope="module")
def contract(tmp_path_factory):
    path = tmp_path_factory.mktemp("wrapped") / "wrapped.json"
    path.write_text(json.dumps(CONTRACT))
    return load(path)


@contextmanager
def _served(contract):
    sandbox = Sandbox(contract, admin_token="adm")
    with TestClient(sandbox.app) as http:
        created = http.post("/_sandbox/tenants", json={"seed": 5}, headers={"Authorization": "Bearer adm"})
        assert created.status_code == 201, created.text
        yield http, created.json()


@pytest.fixture(scope="module")
def client(contract):
    with _served(contract) as served:
        yield served


def test_the_id_is_found_in_the_record_schema_s_allof_parts(contract):
    tasks = contract.collections["tasks"]
    assert tasks.id_field == "gid" and tasks.id_schema.get("readOnly") is True


def test_the_property_a_record_is_wrapped_in_is_read_per_operation(contract):
    assert contract.collections["tasks"].wrappers == {
        "read": "data",
        "create": "data",
        "create_body": "data",
        "update": "data",
        "update_body": "data",
    }


def test_an_object_requiring_an_id_beside_the_fields_is_not_the_record(contract):
    assert contract.collections["assignments"].wrappers == {}


def test_wrapped_writes_are_stored_and_answered_in_the_wrapper(client, contract):
    http, created = client
    url = f"/t/{created['id']}/api/1.0/tasks"
    auth = {"Authorization": f"Bearer {created['client_secret']}"}
    made = http.post(url, json={"data": {"name": "Write the report", "notes": "first"}}, headers=auth)
    assert made.status_code == 201, made.text
    task = made.json()["data"]
    assert task["gid"] and task["name"] == "Write the report" and "data" not in task
    item = f"{url}/{task['gid']}"
    updated = http.put(item, json={"data": {"notes": "second"}}, headers=auth)
    assert updated.status_code == 200 and updated.json()["data"]["notes"] == "second"
    read = http.get(item, headers=auth)
    assert read.json() == {"data": {**task, "notes": "second"}}
    for op_id, response in (("createTask", made), ("updateTask", updated), ("getTask", read)):
        op = contract.operation(op_id)
        assert (
            validate_response(contract, op, response.status_code, dict(response.headers), response.content)
            == []
        )


def test_a_json_body_holding_nothing_is_no_body_where_none_is_taken(client):
    # swagger-codegen's Python client (python-asana) sends `{}` with every DELETE
    http, created = client
    url = f"/t/{created['id']}/api/1.0/tasks"
    auth = {"Authorization": f"Bearer {created['client_secret']}"}
    gid = http.post(url, json={"data": {"name": "x"}}, headers=auth).json()["data"]["gid"]
    json_auth = {**auth, "Content-Type": "application/json"}
    stray = http.request("DELETE", f"{url}/{gid}", content=b'{"name": "x"}', headers=json_auth)
    assert stray.status_code == 400  # a field the operation does not take is still refused
    gone = http.request("DELETE", f"{url}/{gid}", content=b"{}", headers=json_auth)
    assert gone.status_code == 200, gone.text
    assert http.get(f"{url}/{gid}", headers=auth).status_code == 404
    assert http.request("GET", url, content=b"null", headers=json_auth).status_code == 200
