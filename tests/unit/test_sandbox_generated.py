"""Operations with no state behind them get a documented, conforming answer (never a 501), errors
take the contract's own error schema, and credentials are accepted as SDKs really send them."""

from __future__ import annotations

import base64
import json

import pytest
from starlette.testclient import TestClient

from harness.contract import load, validate_response
from harness.sandbox import Sandbox
from harness.sandbox.generated import Responder

TEXT = {"type": "string"}
CONTRACT = {
    "openapi": "3.1.0",
    "info": {"title": "Odd API", "version": "1"},
    "servers": [{"url": "https://api.example.com/v2"}],
    "security": [{"key": []}, {"basic": []}],
    "components": {
        "securitySchemes": {
            "key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            "basic": {"type": "http", "scheme": "basic"},
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["message", "type"],
                        "properties": {
                            "message": {"type": "string"},
                            "type": {"type": "string", "enum": ["invalid_request_error", "api_error"]},
                        },
                    }
                },
            },
            "Status": {
                "type": "object",
                "required": ["ok", "count", "since"],
                "additionalProperties": False,
                "properties": {
                    "ok": {"type": "boolean"},
                    "count": {"type": "integer", "minimum": 3, "maximum": 9},
                    "since": {"type": "integer", "format": "int64"},
                },
            },
        },
    },
    "paths": {
        "/status": {
            "get": {
                "operationId": "status",
                "responses": {
                    "200": {
                        "description": "ok",
                        "headers": {"X-Count": {"required": True, "schema": {"type": "integer"}}},
                        "content": {
                            "application/scim+json": {"schema": {"$ref": "#/components/schemas/Status"}}
                        },
                    },
                    "default": {
                        "description": "error",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                },
            }
        },
        "/actions/{name}/run": {
            "post": {
                "operationId": "run",
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"202": {"description": "accepted"}},
            }
        },
        "/report": {
            "get": {
                "operationId": "report",
                "responses": {
                    "200": {"description": "csv", "content": {"text/csv": {"schema": {"type": "string"}}}}
                },
            }
        },
    },
}


@pytest.fixture(scope="module")
def contract(tmp_path_factory):
    path = tmp_path_factory.mktemp("odd") / "odd.json"
    path.write_text(json.dumps(CONTRACT))
    return load(path)


@pytest.fixture(scope="module")
def client(contract):
    sandbox = Sandbox(contract, admin_token="adm")
    with TestClient(sandbox.app) as http:
        created = http.post("/_sandbox/tenants", json={"seed": 7}, headers={"Authorization": "Bearer adm"})
        assert created.status_code == 201
        yield http, created.json(), sandbox


def _tenant_path(created, path):
    return f"/t/{created['id']}/v2{path}"


def test_an_operation_outside_any_collection_answers_its_documented_status_type_and_headers(client, contract):
    http, created, _ = client
    response = http.get(_tenant_path(created, "/status"), headers={"X-Api-Key": created["client_secret"]})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/scim+json")
    assert int(response.headers["x-count"]) == int(response.headers["x-count"])
    body = response.json()
    assert set(body) == {"ok", "count", "since"} and 3 <= body["count"] <= 9
    found = validate_response(
        contract, contract.operation("status"), 200, dict(response.headers), response.content
    )
    assert found == []


def test_the_exact_documented_code_and_no_body_where_none_is_documented(client):
    http, created, _ = client
    response = http.post(
        _tenant_path(created, "/actions/x/run"), headers={"X-Api-Key": created["client_secret"]}
    )
    assert response.status_code == 202 and response.content == b""


def test_a_text_response_is_sent_as_its_documented_text_type(client):
    http, created, _ = client
    response = http.get(_tenant_path(created, "/report"), headers={"X-Api-Key": created["client_secret"]})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")


def test_generated_answers_are_deterministic_per_tenant_seed_and_request(client):
    http, created, _ = client
    headers = {"X-Api-Key": created["client_secret"]}
    first = http.get(_tenant_path(created, "/status"), headers=headers).json()
    assert http.get(_tenant_path(created, "/status"), headers=headers).json() == first


def test_a_wrong_credential_is_a_401_in_the_contracts_own_error_schema(client, contract):
    http, created, _ = client
    response = http.get(_tenant_path(created, "/status"), headers={"X-Api-Key": "wrong ключ".encode()})
    assert response.status_code == 401
    body = response.json()
    assert body["error"]["type"] in ("invalid_request_error", "api_error")
    assert "API key" in body["error"]["message"] or "basic" in body["error"]["message"]
    found = validate_response(
        contract, contract.operation("status"), 401, dict(response.headers), response.content
    )
    assert found == []


@pytest.mark.parametrize("prefix", ["Bearer ", "Token ", ""])
def test_a_header_api_key_is_accepted_with_the_prefixes_sdks_send(client, prefix):
    http, created, _ = client
    response = http.get(
        _tenant_path(created, "/status"), headers={"X-Api-Key": prefix + created["client_secret"]}
    )
    assert response.status_code == 200


def test_a_secret_sent_as_the_basic_user_with_no_password_is_accepted(client):
    http, created, _ = client
    basic = base64.b64encode(f"{created['client_secret']}:".encode()).decode()
    response = http.get(_tenant_path(created, "/status"), headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200
    wrong = base64.b64encode(b"sk_wrong:").decode()
    assert (
        http.get(_tenant_path(created, "/status"), headers={"Authorization": f"Basic {wrong}"}).status_code
        == 401
    )


def test_the_api_is_served_at_the_root_of_a_host_named_for_the_tenant(client):
    http, created, _ = client
    response = http.get(
        "/v2/status",
        headers={"Host": f"{created['id']}.localhost", "X-Api-Key": created["client_secret"]},
    )
    assert response.status_code == 200 and "count" in response.json()


def test_a_path_with_control_characters_reaches_the_api_not_a_router_404(client):
    http, created, _ = client
    response = http.post(
        _tenant_path(created, "/actions/a%0Ab/run"), headers={"X-Api-Key": created["client_secret"]}
    )
    assert response.status_code == 202


def test_a_stateful_answer_that_breaks_its_schema_is_repaired_before_it_is_sent(contract):
    from starlette.responses import Response

    responder = Responder(contract)
    op = contract.operation("status")
    broken = Response(json.dumps({"ok": "yes", "count": 42, "extra": 1}), 201, media_type="application/json")
    fixed, kind = responder.conform(op, broken, seed=3)
    assert kind in ("repaired", "regenerated") and fixed.status_code == 200
    assert validate_response(contract, op, fixed.status_code, dict(fixed.headers), bytes(fixed.body)) == []
    body = json.loads(bytes(fixed.body))
    assert isinstance(body["ok"], bool) and 3 <= body["count"] <= 9 and "extra" not in body


def test_the_request_log_counts_repaired_answers(client):
    http, created, _ = client
    http.get(_tenant_path(created, "/status"), headers={"X-Api-Key": created["client_secret"]})
    log = http.get(f"/_sandbox/tenants/{created['id']}/requests", headers={"Authorization": "Bearer adm"})
    entries = log.json()
    entries = entries["data"]
    assert all("repair" in e for e in entries)
    assert all(e["response_violations"] == [] for e in entries)


def test_a_form_body_with_bracket_keys_validates_against_the_nested_schema(tmp_path):
    from harness.contract import validate_request

    doc = {
        "openapi": "3.1.0",
        "info": {"title": "Form API", "version": "1"},
        "paths": {
            "/charges": {
                "post": {
                    "operationId": "charge",
                    "requestBody": {
                        "content": {
                            "application/x-www-form-urlencoded": {
                                "schema": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {
                                        "amount": {"type": "integer"},
                                        "metadata": {"type": "object", "additionalProperties": TEXT},
                                        "expand": {"type": "array", "items": TEXT},
                                    },
                                }
                            }
                        }
                    },
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
    path = tmp_path / "form.json"
    path.write_text(json.dumps(doc))
    form = load(path)
    headers = {"content-type": "application/x-www-form-urlencoded"}
    good = b"amount=100&metadata%5Border%5D=7&expand%5B%5D=customer"
    assert validate_request(form, "POST", "/charges", {}, headers, good)[1] == []
    bad = b"amount=lots&metadata%5Border%5D=7"
    found = validate_request(form, "POST", "/charges", {}, headers, bad)[1]
    assert [v.pointer for v in found] == ["/body/amount"]


def test_a_handler_that_fails_answers_a_documented_response_not_a_500(client):
    http, created, sandbox = client

    def broken(*args):
        raise ValueError("a handler bug")

    sandbox.handlers["status"] = broken
    try:
        response = http.get(_tenant_path(created, "/status"), headers={"X-Api-Key": created["client_secret"]})
    finally:
        del sandbox.handlers["status"]
    assert response.status_code == 200 and set(response.json()) == {"ok", "count", "since"}


def test_tenant_creation_says_which_credential_goes_where_for_every_scheme(client):
    _, created, _ = client
    by_scheme = {c["scheme"]: c for c in created["credentials"]}
    assert by_scheme["key"] == {
        "scheme": "key",
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "value": created["client_secret"],
    }
    basic = base64.b64decode(by_scheme["basic"]["value"].removeprefix("Basic ")).decode()
    assert basic == f"{created['client_id']}:{created['client_secret']}"
    assert created["host_url"].startswith(f"http://{created['id']}.localhost")


def test_a_json_body_nested_deeper_than_the_parser_goes_is_a_clean_400_not_a_500(tmp_path):
    from harness.contract import validate_request

    doc = {
        "openapi": "3.1.0",
        "info": {"title": "Deep", "version": "1"},
        "paths": {
            "/things": {
                "post": {
                    "requestBody": {"content": {"application/json": {"schema": {}}}},
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
    path = tmp_path / "deep.json"
    path.write_text(json.dumps(doc))
    deep = load(path)
    body = b"[" * 200_000 + b"]" * 200_000
    found = validate_request(deep, "POST", "/things", {}, {"content-type": "application/json"}, body)[1]
    assert [v.pointer for v in found] == ["/body"] and "nested too deeply" in found[0].message


def test_a_token_url_outside_the_contracts_paths_and_host_is_served_and_its_token_works(tmp_path):
    doc = json.loads(json.dumps(CONTRACT))
    doc["components"]["securitySchemes"] = {
        "oauth": {
            "type": "oauth2",
            "flows": {
                "clientCredentials": {"tokenUrl": "https://auth.example.com/oauth2/token", "scopes": {}}
            },
        }
    }
    doc["security"] = [{"oauth": []}]
    path = tmp_path / "oauth.json"
    path.write_text(json.dumps(doc))
    with TestClient(Sandbox(load(path), admin_token="adm").app) as http:
        created = http.post("/_sandbox/tenants", json={}, headers={"Authorization": "Bearer adm"}).json()
        form = {
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        }
        token = http.post(f"/t/{created['id']}/oauth2/token", data=form)
        assert token.status_code == 200
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        assert http.get(_tenant_path(created, "/status"), headers=bearer).status_code == 200
        wrong = {"Authorization": "Bearer at_wrong"}
        assert http.get(_tenant_path(created, "/status"), headers=wrong).status_code == 401


def test_a_created_record_whose_id_schema_bounds_only_its_length_reads_back(tmp_path):
    """SendGrid's `list.id` is a string of exactly 36 characters with no pattern: the id the
    sandbox makes must fit, or the repaired answer names a record that does not exist."""
    record = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "minLength": 36, "maxLength": 36},
            "name": TEXT,
        },
    }
    ok = lambda schema: {"200": {"description": "ok", "content": {"application/json": {"schema": schema}}}}  # noqa: E731
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "Lists", "version": "1"},
        "paths": {
            "/lists": {
                "get": {
                    "operationId": "lists",
                    "responses": ok(
                        {"type": "object", "properties": {"result": {"type": "array", "items": record}}}
                    ),
                },
                "post": {
                    "operationId": "make",
                    "requestBody": {"content": {"application/json": {"schema": record}}},
                    "responses": ok(record),
                },
            },
            "/lists/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": TEXT}],
                "get": {"operationId": "list", "responses": ok(record)},
            },
        },
    }
    path = tmp_path / "lists.json"
    path.write_text(json.dumps(doc))
    with TestClient(Sandbox(load(path), admin_token="adm").app) as http:
        created = http.post(
            "/_sandbox/tenants",
            json={"seed": 1, "sizes": {"lists": 3}},
            headers={"Authorization": "Bearer adm"},
        ).json()
        made = http.post(f"/t/{created['id']}/lists", json={"name": "news"})
        assert made.status_code == 200 and len(made.json()["id"]) == 36
        again = http.get(f"/t/{created['id']}/lists/{made.json()['id']}")
        assert again.status_code == 200 and again.json()["name"] == "news"
        listed = http.get(f"/t/{created['id']}/lists").json()["result"]
        assert made.json()["id"] in [r["id"] for r in listed]


LINKED = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "name": TEXT,
        "url": {"type": "string", "format": "uri"},
        "_metadata": {"type": "object", "properties": {"self": {"type": "string", "format": "uri"}}},
    },
}
HOOK = {"type": "object", "properties": {"id": TEXT, "url": {"type": "string", "format": "uri"}}}


def _ok(schema):
    return {"200": {"description": "ok", "content": {"application/json": {"schema": schema}}}}


def _linked_contract(tmp_path):
    """SendGrid's list pages (`_metadata.next`, a `format: uri` that is absent on the last page)
    and self links; a webhook whose `url` is the client's own data."""
    page = {
        "type": "object",
        "properties": {
            "result": {"type": "array", "items": LINKED},
            "_metadata": {"type": "object", "properties": {"next": {"type": "string", "format": "uri"}}},
        },
    }
    item = {"name": "id", "in": "path", "required": True, "schema": TEXT}
    size = {"name": "page_size", "in": "query", "schema": {"type": "integer"}}
    token = {"name": "page_token", "in": "query", "schema": TEXT}
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "Links", "version": "1"},
        "servers": [{"url": "https://api.example.com/v3"}],
        "paths": {
            "/lists": {"get": {"operationId": "lists", "parameters": [size, token], "responses": _ok(page)}},
            "/lists/{id}": {"get": {"operationId": "list", "parameters": [item], "responses": _ok(LINKED)}},
            "/hooks": {
                "get": {"operationId": "hooks", "responses": _ok({"type": "array", "items": HOOK})},
                "post": {
                    "operationId": "hook",
                    "requestBody": {"content": {"application/json": {"schema": HOOK}}},
                    "responses": _ok(HOOK),
                },
            },
            "/hooks/{id}": {"get": {"operationId": "one_hook", "parameters": [item], "responses": _ok(HOOK)}},
        },
    }
    path = tmp_path / "links.json"
    path.write_text(json.dumps(doc))
    return load(path)


def test_next_page_urls_and_self_links_are_absolute_urls_of_the_sandbox(tmp_path):
    contract = _linked_contract(tmp_path)
    with TestClient(Sandbox(contract, admin_token="adm").app) as http:
        made = http.post(
            "/_sandbox/tenants",
            json={"seed": 1, "sizes": {"lists": 3}},
            headers={"Authorization": "Bearer adm"},
        ).json()
        base = made["base_url"]
        first = http.get(f"{base}/lists", params={"page_size": 2})
        assert first.status_code == 200
        body = first.json()
        assert body["_metadata"]["next"].startswith(f"{base}/lists?")
        for record in body["result"]:
            own = f"{base}/lists/{record['id']}"
            assert record["url"] == own and record["_metadata"]["self"] == own
            assert http.get(record["url"]).json()["id"] == record["id"]  # the link leads to it
        last = http.get(body["_metadata"]["next"]).json()
        assert len(last["result"]) == 1 and "next" not in last["_metadata"]  # not null: absent
        log = http.get(f"/_sandbox/tenants/{made['id']}/requests", headers={"Authorization": "Bearer adm"})
        assert all(not e["response_violations"] and not e["repair"] for e in log.json()["data"])


def test_a_url_field_the_client_writes_is_kept_not_made_a_self_link(tmp_path):
    contract = _linked_contract(tmp_path)
    with TestClient(Sandbox(contract, admin_token="adm").app) as http:
        base = http.post(
            "/_sandbox/tenants", json={"seed": 1}, headers={"Authorization": "Bearer adm"}
        ).json()["base_url"]
        hook = http.post(f"{base}/hooks", json={"url": "https://client.example/hook"}).json()
        assert http.get(f"{base}/hooks/{hook['id']}").json()["url"] == "https://client.example/hook"


def _things_contract(tmp_path, item_responses):
    thing = {"type": "object", "required": ["id"], "properties": {"id": TEXT, "label": TEXT}}
    item = {"name": "id", "in": "path", "required": True, "schema": TEXT}
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "Things", "version": "1"},
        "paths": {
            "/things": {
                "get": {"operationId": "things", "responses": _ok({"type": "array", "items": thing})},
            },
            "/things/{id}": {
                "parameters": [item],
                "get": {"operationId": "thing", "responses": {**_ok(thing), **item_responses}},
                "patch": {
                    "operationId": "edit",
                    "requestBody": {"content": {"application/json": {"schema": thing}}},
                    "responses": _ok(thing),
                },
                "delete": {"operationId": "drop", "responses": {"204": {"description": "gone"}}},
            },
        },
    }
    path = tmp_path / "things.json"
    path.write_text(json.dumps(doc))
    return load(path)


def test_an_unknown_id_where_no_404_is_documented_gets_the_documented_answer_but_deleted_stays_404(tmp_path):
    """Zoom's, Meraki's and OpenAI's item operations document only 200: a valid request for an
    id the tenant never had is answered as documented; one the tenant deleted is still a 404."""
    contract = _things_contract(tmp_path, {})
    with TestClient(Sandbox(contract, admin_token="adm").app) as http:
        made = http.post(
            "/_sandbox/tenants",
            json={"seed": 1, "sizes": {"things": 2}},
            headers={"Authorization": "Bearer adm"},
        ).json()
        base = made["base_url"]
        unknown = http.get(f"{base}/things/nope")
        assert unknown.status_code == 200 and unknown.json()["id"] == "nope"
        assert (
            validate_response(
                contract, contract.operation("thing"), 200, dict(unknown.headers), unknown.content
            )
            == []
        )
        edited = http.patch(f"{base}/things/nope", json={"id": "nope", "label": "x"})
        assert edited.status_code == 200 and edited.json()["label"] == "x"
        real = http.get(f"{base}/things").json()[0]["id"]
        assert http.delete(f"{base}/things/{real}").status_code == 204
        assert http.get(f"{base}/things/{real}").status_code == 404  # real state: deleted is gone
        assert http.patch(f"{base}/things/{real}", json={"id": real}).status_code == 404


def test_an_unknown_id_is_a_404_where_the_operation_documents_one(tmp_path):
    contract = _things_contract(tmp_path, {"404": {"description": "no such thing"}})
    with TestClient(Sandbox(contract, admin_token="adm").app) as http:
        base = http.post(
            "/_sandbox/tenants", json={"seed": 1}, headers={"Authorization": "Bearer adm"}
        ).json()["base_url"]
        assert http.get(f"{base}/things/nope").status_code == 404


@pytest.mark.parametrize("servers", ["https://api.example.com", "https://api.example.com/2.0"])
def test_a_token_url_the_contract_documents_as_a_json_only_path_issues_real_tokens(tmp_path, servers):
    """Square documents `POST /oauth2/token` (JSON bodies only) and Box the same path under
    `/2.0`: a client-credentials form sent to the flow's token URL still gets a working token,
    not a 400 for its content type or a generated `access_token` that authenticates nothing."""
    doc = json.loads(json.dumps(CONTRACT))
    doc["servers"] = [{"url": servers}]
    doc["paths"] = {"/status": CONTRACT["paths"]["/status"]}
    json_body = {"type": "object", "required": ["client_id"], "properties": {"client_id": TEXT}}
    doc["paths"]["/oauth2/token"] = {
        "post": {
            "operationId": "ObtainToken",
            "security": [],
            "requestBody": {"content": {"application/json": {"schema": json_body}}},
            "responses": _ok({"type": "object", "properties": {"access_token": TEXT}}),
        }
    }
    flow = {"authorizationCode": {"authorizationUrl": "https://api.example.com/oauth2/authorize"}}
    flow["authorizationCode"].update(tokenUrl="https://api.example.com/oauth2/token", scopes={})
    doc["components"]["securitySchemes"] = {"oauth": {"type": "oauth2", "flows": flow}}
    doc["security"] = [{"oauth": []}]
    path = tmp_path / "square.json"
    path.write_text(json.dumps(doc))
    with TestClient(Sandbox(load(path), admin_token="adm").app) as http:
        created = http.post("/_sandbox/tenants", json={}, headers={"Authorization": "Bearer adm"}).json()
        token = http.post(
            f"/t/{created['id']}/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(created["client_id"], created["client_secret"]),
        )
        assert token.status_code == 200, token.text
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        status = http.get(created["base_url"] + "/status", headers=bearer)
        assert status.status_code == 200, status.text


def test_a_contract_without_security_schemes_guards_the_operations_that_document_401(tmp_path):
    """GitHub's description declares no securitySchemes, yet `GET /user` documents 401: it
    needs the tenant's secret (PyGithub sends `token <secret>`); `GET /status` stays public."""
    doc = json.loads(json.dumps(CONTRACT))
    del doc["security"], doc["components"]["securitySchemes"]
    doc["paths"] = {
        "/status": CONTRACT["paths"]["/status"],
        "/user": {
            "get": {
                "operationId": "me",
                "responses": {**_ok({"type": "object"}), "401": {"description": "requires authentication"}},
            }
        },
    }
    path = tmp_path / "noscheme.json"
    path.write_text(json.dumps(doc))
    with TestClient(Sandbox(load(path), admin_token="adm").app) as http:
        made = http.post("/_sandbox/tenants", json={}, headers={"Authorization": "Bearer adm"}).json()
        base = made["base_url"]
        assert http.get(f"{base}/status").status_code == 200
        assert http.get(f"{base}/user").status_code == 401
        assert http.get(f"{base}/user", headers={"Authorization": "token wrong"}).status_code == 401
        ok = http.get(f"{base}/user", headers={"Authorization": f"token {made['client_secret']}"})
        assert ok.status_code == 200


def test_a_base_schema_with_a_discriminator_mapping_takes_a_mapped_value(tmp_path):
    """Twitter's `Problem` maps `type` to 19 schemas that extend it by allOf, with no oneOf:
    every generated problem, the base's or a mapped schema's, carries a mapped `type` (its own
    where it is a target), never a random word."""
    from harness.sandbox.generated import Generator

    base = {
        "type": "object",
        "required": ["type", "title"],
        "properties": {"type": TEXT, "title": TEXT, "detail": TEXT},
        "discriminator": {
            "propertyName": "type",
            "mapping": {
                "about:blank": "#/components/schemas/Generic",
                "https://example.com/problems/gone": "#/components/schemas/Gone",
            },
        },
    }
    gone = {"allOf": [{"$ref": "#/components/schemas/Problem"}, {"properties": {"since": TEXT}}]}
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "Problems", "version": "1"},
        "components": {
            "schemas": {
                "Problem": base,
                "Generic": {"allOf": [{"$ref": "#/components/schemas/Problem"}]},
                "Gone": gone,
            }
        },
        "paths": {},
    }
    path = tmp_path / "problems.json"
    path.write_text(json.dumps(doc))
    contract = load(path)
    values = Generator(contract)
    for seed in range(20):
        problem, ok = values.value(contract.at("components", "schemas", "Problem"), seed)
        assert ok and problem["type"] == "about:blank"  # Gone adds a property: not for a bare Problem
        own, ok = values.value(contract.at("components", "schemas", "Gone"), seed)
        assert ok and own["type"] == "https://example.com/problems/gone"


def _card_contract(tmp_path, errors):
    body = {"type": "object", "properties": {"cardNumber": TEXT}}
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "Cards", "version": "1"},
        "paths": {
            "/cardDetails": {
                "post": {
                    "operationId": "cardDetails",
                    "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": TEXT}],
                    "requestBody": {"content": {"application/json": {"schema": body}}},
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {
                                    "schema": {"type": "object", "properties": {"brand": TEXT}}
                                }
                            },
                        },
                        **errors,
                    },
                }
            }
        },
    }
    path = tmp_path / "cards.json"
    path.write_text(json.dumps(doc))
    return load(path)


@pytest.mark.parametrize(
    "errors, status",
    [({}, 200), ({"400": {"description": "bad"}}, 400), ({"default": {"description": "error"}}, 422)],
    ids=["no-error-documented", "400-documented", "default-documented"],
)
def test_an_idempotency_key_reused_with_another_body_is_refused_only_as_documented(tmp_path, errors, status):
    """Adyen's `POST /cardDetails` documents only 200: a key sent again with another body is
    answered as a new request; where a client error is documented it is refused with it."""
    contract = _card_contract(tmp_path, errors)
    with TestClient(Sandbox(contract, admin_token="adm").app) as http:
        base = http.post(
            "/_sandbox/tenants", json={"seed": 1}, headers={"Authorization": "Bearer adm"}
        ).json()["base_url"]
        key = {"Idempotency-Key": "k-1"}
        assert http.post(f"{base}/cardDetails", json={"cardNumber": "4111"}, headers=key).status_code == 200
        again = http.post(f"{base}/cardDetails", json={"cardNumber": "5555"}, headers=key)
        assert again.status_code == status
        op = contract.operation("cardDetails")
        assert validate_response(contract, op, status, dict(again.headers), again.content) == []


def test_a_discriminator_without_mapping_keeps_a_branch_s_own_fixed_value(tmp_path):
    """Spotify's `item` is oneOf TrackObject | EpisodeObject with `discriminator: {propertyName:
    type}` and no mapping, while each branch fixes `type` (`enum: [track]`, `[episode]` through
    an allOf): the branch's value stands, not its schema name, so the value validates."""
    from harness.sandbox.generated import Generator

    track = {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"type": "string", "enum": ["track"]}, "name": TEXT},
    }
    base = {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"type": "string", "enum": ["episode"]}},
    }
    episode = {"allOf": [{"$ref": "#/components/schemas/Base"}, {"properties": {"show": TEXT}}]}
    item = {
        "discriminator": {"propertyName": "type"},
        "oneOf": [{"$ref": "#/components/schemas/Track"}, {"$ref": "#/components/schemas/Episode"}],
    }
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "Player", "version": "1"},
        "components": {"schemas": {"Track": track, "Base": base, "Episode": episode, "Item": item}},
        "paths": {},
    }
    path = tmp_path / "player.json"
    path.write_text(json.dumps(doc))
    contract = load(path)
    values = Generator(contract)
    seen = set()
    for seed in range(30):
        value, ok = values.value(contract.at("components", "schemas", "Item"), seed)
        assert ok, value
        seen.add(value["type"])
    assert seen == {"track", "episode"}


def test_an_answer_whose_required_field_no_value_satisfies_is_still_an_object(tmp_path):
    """Vercel's `GET /v1/integrations/search-repo` requires `gitAccount.namespaceId`, typed
    `null` and a `oneOf` of string and number at once: nothing satisfies it, so every try
    failed and the sandbox answered the body `null` where an object is documented. As records
    are made, a last lenient try gives the object, only that field wrong (null)."""
    from harness.sandbox.generated import Generator

    never = {"type": "null", "oneOf": [TEXT, {"type": "number"}]}
    account = {"type": "object", "required": ["id"], "properties": {"id": never}}
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "Repos", "version": "1"},
        "components": {"schemas": {"Found": {"required": ["account"], "properties": {"account": account}}}},
        "paths": {},
    }
    path = tmp_path / "repos.json"
    path.write_text(json.dumps(doc))
    contract = load(path)
    value, ok = Generator(contract).value(contract.at("components", "schemas", "Found"), 1)
    assert not ok and value == {"account": {"id": None}}
