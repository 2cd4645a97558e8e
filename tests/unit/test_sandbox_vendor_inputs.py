"""Inputs real vendor contracts have that the bundled CRM does not (issue 12): a 204 documented
with a body, a token endpoint outside the contract's paths, deepObject and delimited query
parameters, non-UTF-8 request charsets, records scoped by their parent, form field names that
differ from the schema's. Each shape is copied from the published spec named beside it."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from starlette.testclient import TestClient

from harness.contract import load, validate_request, validate_response
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


def _load(tmp_path_factory, doc):
    path = tmp_path_factory.mktemp("vendor") / "vendor.json"
    path.write_text(json.dumps(doc))
    return load(path)


@contextmanager
def _served(contract, **spec):
    sandbox = Sandbox(contract, admin_token="adm")
    with TestClient(sandbox.app) as http:
        created = http.post(
            "/_sandbox/tenants", json={"seed": 5, **spec}, headers={"Authorization": "Bearer adm"}
        )
        assert created.status_code == 201, created.text
        yield http, created.json()


@pytest.fixture(scope="module")
def contract(tmp_path_factory):
    return _load(tmp_path_factory, CONTRACT)


@pytest.fixture(scope="module")
def client(contract):
    with _served(contract) as served:
        yield served


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


def _oauth_contract(flows):
    """Zoom/Spotify/Asana-shaped: the API under a base path, the token endpoint on another host
    and outside every path of the contract."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "OAuth elsewhere", "version": "1"},
        "servers": [{"url": "https://api.example.com/v2"}],
        "security": [{"oauth": ["user:read"]}],
        "components": {
            "securitySchemes": {"oauth": {"type": "oauth2", "flows": flows}},
        },
        "paths": {
            "/users/me": {
                "get": {
                    "operationId": "me",
                    "responses": {
                        "200": {
                            "description": "me",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {"id": TEXT},
                                        "required": ["id"],
                                    }
                                }
                            },
                        },
                        "401": {"description": "no"},
                    },
                }
            }
        },
    }


CODE_FLOW = {
    "authorizationCode": {
        "authorizationUrl": "https://accounts.example.com/authorize",
        "tokenUrl": "https://accounts.example.com/api/token",
        "scopes": {"user:read": "read"},
    }
}


@pytest.mark.parametrize(
    "flows, token_path",
    [
        (CODE_FLOW, "/api/token"),  # Spotify: authorization code only, token on another host
        (  # Zoom: a client-credentials flow at the API host's root, outside the /v2 base
            {
                **CODE_FLOW,
                "clientCredentials": {"tokenUrl": "https://api.example.com/oauth/token", "scopes": {}},
            },
            "/oauth/token",
        ),
    ],
    ids=["authorization-code-elsewhere", "client-credentials-outside-base"],
)
def test_a_token_endpoint_outside_the_contracts_paths_is_served_and_reported(
    tmp_path_factory, flows, token_path
):
    contract = _load(tmp_path_factory, _oauth_contract(flows))
    with _served(contract) as (http, created):
        assert created["token_url"] == f"http://testserver/t/{created['id']}{token_path}"
        form = {
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        }
        token = http.post(created["token_url"], data=form)
        assert token.status_code == 200, token.text
        me = http.get(
            created["base_url"] + "/users/me",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
        assert me.status_code == 200, me.text
        assert http.get(created["base_url"] + "/users/me").status_code == 401


def _object(props, required=()):
    return {"type": "object", "properties": props, **({"required": list(required)} if required else {})}


def _json(schema, description="ok"):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


REPO = _object(
    {
        "id": {"type": "integer"},
        "name": TEXT,
        "full_name": TEXT,
        "owner": _object({"login": TEXT, "id": {"type": "integer"}}, ["login"]),
        "description": {"type": "string", "nullable": True},
    },
    ["id", "name", "full_name", "owner"],
)
ISSUE = _object({"id": {"type": "integer"}, "number": {"type": "integer"}, "title": TEXT}, ["id", "number"])
OWNER_REPO = [
    {"name": "owner", "in": "path", "required": True, "schema": TEXT},
    {"name": "repo", "in": "path", "required": True, "schema": TEXT},
]
NOT_FOUND = {
    "description": "Not Found",
    "content": {"application/json": {"schema": _object({"message": TEXT})}},
}
GITHUB_SHAPED = {
    "openapi": "3.0.3",
    "info": {"title": "GitHub-shaped", "version": "1"},
    "servers": [{"url": "https://api.example.com"}],
    "security": [{"key": []}],
    "components": {"securitySchemes": {"key": KEY}, "schemas": {"repo": REPO, "issue": ISSUE}},
    "paths": {
        "/user/repos": {
            "get": {
                "operationId": "listMine",
                "responses": {
                    "200": _json({"type": "array", "items": {"$ref": "#/components/schemas/repo"}})
                },
            },
            "post": {
                "operationId": "createMine",
                "requestBody": {
                    "content": {"application/json": {"schema": _object({"name": TEXT}, ["name"])}}
                },
                "responses": {"201": _json({"$ref": "#/components/schemas/repo"})},
            },
        },
        "/repos/{owner}/{repo}": {
            "parameters": OWNER_REPO,
            "get": {
                "operationId": "getRepo",
                "responses": {"200": _json({"$ref": "#/components/schemas/repo"}), "404": NOT_FOUND},
            },
            "delete": {
                "operationId": "deleteRepo",
                "responses": {"204": {"description": "gone"}, "404": NOT_FOUND},
            },
        },
        "/repos/{owner}/{repo}/issues": {
            "parameters": OWNER_REPO,
            "get": {
                "operationId": "listIssues",
                "responses": {
                    "200": _json({"type": "array", "items": {"$ref": "#/components/schemas/issue"}})
                },
            },
            "post": {
                "operationId": "createIssue",
                "requestBody": {"content": {"application/json": {"schema": _object({"title": TEXT})}}},
                "responses": {"201": _json({"$ref": "#/components/schemas/issue"})},
            },
        },
        "/repos/{owner}/{repo}/issues/{issue_number}": {
            "parameters": [
                *OWNER_REPO,
                {"name": "issue_number", "in": "path", "required": True, "schema": {"type": "integer"}},
            ],
            "get": {
                "operationId": "getIssue",
                "responses": {"200": _json({"$ref": "#/components/schemas/issue"}), "404": NOT_FOUND},
            },
        },
    },
}


def test_a_record_created_at_one_path_is_read_and_deleted_at_the_path_that_answers_its_schema(
    tmp_path_factory,
):
    contract = _load(tmp_path_factory, GITHUB_SHAPED)
    assert contract.collections["repos"].key_fields == (("owner", "owner.login"), ("repo", "name"))
    with _served(contract) as (http, created):
        key = {"X-Key": created["client_secret"]}
        made = http.post(created["base_url"] + "/user/repos", json={"name": "demo"}, headers=key)
        assert made.status_code == 201, made.text
        repo = made.json()
        assert repo["full_name"] == f"{repo['owner']['login']}/demo"
        read = http.get(created["base_url"] + f"/repos/{repo['full_name']}", headers=key)
        assert (read.status_code, read.json()["id"]) == (200, repo["id"])
        assert (
            http.get(created["base_url"] + f"/repos/{repo['owner']['login']}/nope", headers=key).status_code
            == 404
        )
        assert (
            http.delete(created["base_url"] + f"/repos/{repo['full_name']}", headers=key).status_code == 204
        )
        gone = http.get(created["base_url"] + f"/repos/{repo['full_name']}", headers=key)
        assert gone.status_code == 404 and "Not Found" in gone.json()["message"]


def test_an_item_path_parameter_names_the_record_field_it_holds(tmp_path_factory):
    contract = _load(tmp_path_factory, GITHUB_SHAPED)
    assert contract.collections["issues"].id_field == "number"  # {issue_number}, not the issue's `id`
    with _served(contract) as (http, created):
        key = {"X-Key": created["client_secret"]}
        issue = http.post(created["base_url"] + "/repos/o/r/issues", json={"title": "t"}, headers=key).json()
        read = http.get(created["base_url"] + f"/repos/o/r/issues/{issue['number']}", headers=key)
        assert (read.status_code, read.json()["title"]) == (200, "t")


def _query(name, schema, **how):
    return {"name": name, "in": "query", "schema": schema, **how}


INTS = {"type": "array", "items": {"type": "integer"}}
STYLED = {
    "openapi": "3.0.3",
    "info": {"title": "Query styles", "version": "1"},
    "paths": {
        "/things": {
            "get": {
                "operationId": "listThings",
                "parameters": [
                    # Apideck's filter, Stripe's created (anyOf an object of bounds or an integer)
                    _query(
                        "filter",
                        _object({"name": TEXT, "since": {"type": "integer"}}),
                        style="deepObject",
                        explode=True,
                    ),
                    _query(
                        "created",
                        {"anyOf": [_object({"gt": {"type": "integer"}}), {"type": "integer"}]},
                        style="deepObject",
                        explode=True,
                    ),
                    _query("expand", {"type": "array", "items": TEXT}, style="deepObject", explode=True),
                    _query("ids", INTS, style="pipeDelimited", explode=False),
                    _query("tags", {"type": "array", "items": TEXT}, style="spaceDelimited", explode=False),
                    _query("opt_fields", INTS, style="form", explode=False),  # Asana, SendGrid: a,b,c
                ],
                "responses": {"200": {"description": "ok"}},
            }
        }
    },
}


@pytest.mark.parametrize(
    "query",
    [
        {"filter[name]": ["x"], "filter[since]": ["5"]},
        {"created[gt]": ["5"]},
        {"created": ["5"]},
        {"expand[]": ["a", "b"]},
        {"expand[0]": ["a"], "expand[1]": ["b"]},
        {"ids": ["1|2|3"]},
        {"tags": ["a b"]},
        {"opt_fields": ["1,2"]},
    ],
    ids=lambda q: "&".join(q),
)
def test_query_parameters_are_read_by_their_style(tmp_path_factory, query):
    contract = _load(tmp_path_factory, STYLED)
    _, found = validate_request(contract, "GET", "/things", query)
    assert found == []


@pytest.mark.parametrize(
    "query, pointer",
    [
        ({"filter[since]": ["soon"]}, "/query/filter/since"),
        ({"created[gt]": ["soon"]}, "/query/created"),
        ({"ids": ["1|x"]}, "/query/ids/1"),
        ({"opt_fields": ["1,x"]}, "/query/opt_fields/1"),
        ({"other[x]": ["1"]}, "/query/other[x]"),
    ],
    ids=lambda v: v if isinstance(v, str) else "&".join(v),
)
def test_a_styled_value_that_breaks_its_schema_is_refused_by_the_parameter(tmp_path_factory, query, pointer):
    contract = _load(tmp_path_factory, STYLED)
    _, found = validate_request(contract, "GET", "/things", query)
    assert [v.pointer for v in found] == [pointer]


NOTE = _object({"id": TEXT, "text": TEXT, "friendly_name": TEXT}, ["id"])
NOTES = {
    "openapi": "3.0.3",
    "info": {"title": "Notes", "version": "1"},
    "security": [{"key": []}],
    "components": {"securitySchemes": {"key": KEY}, "schemas": {"note": NOTE}},
    "paths": {
        "/notes": {
            "get": {
                "operationId": "listNotes",
                "responses": {
                    "200": _json({"type": "array", "items": {"$ref": "#/components/schemas/note"}})
                },
            },
            "post": {
                "operationId": "createNote",
                "requestBody": {
                    "content": {
                        "application/json": {"schema": _object({"text": TEXT})},
                        # Twilio: the form names the field FriendlyName, the record friendly_name
                        "application/x-www-form-urlencoded": {
                            "schema": _object({"text": TEXT, "FriendlyName": TEXT})
                        },
                    }
                },
                "responses": {"201": _json({"$ref": "#/components/schemas/note"})},
            },
        },
        "/notes/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": TEXT}],
            "get": {
                "operationId": "getNote",
                "responses": {"200": _json({"$ref": "#/components/schemas/note"}), "404": NOT_FOUND},
            },
        },
    },
}


@pytest.fixture(scope="module")
def notes(tmp_path_factory):
    with _served(_load(tmp_path_factory, NOTES)) as (http, created):
        yield http, created, {"X-Key": created["client_secret"]}


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/json; charset=iso-8859-1", '{"text": "café"}'.encode("latin-1")),
        ("application/x-www-form-urlencoded; charset=ISO-8859-1", b"text=caf%E9"),
        ("application/json; charset=utf-16", '{"text": "café"}'.encode("utf-16")),
    ],
    ids=["json-latin-1", "form-latin-1", "json-utf-16"],
)
def test_a_body_in_another_charset_is_read_in_that_charset(notes, content_type, body):
    http, created, key = notes
    made = http.post(
        created["base_url"] + "/notes", content=body, headers={**key, "Content-Type": content_type}
    )
    assert made.status_code == 201, made.text
    read = http.get(created["base_url"] + f"/notes/{made.json()['id']}", headers=key)
    assert read.json()["text"] == "café"


@pytest.mark.parametrize(
    "charset, body, pointer",
    [
        ("klingon-8", b'{"text": "x"}', "/headers/content-type"),
        ("us-ascii", '{"text": "café"}'.encode("latin-1"), "/body"),
    ],
)
def test_an_unknown_or_wrong_charset_is_a_4xx_naming_it(notes, charset, body, pointer):
    http, created, key = notes
    refused = http.post(
        created["base_url"] + "/notes",
        content=body,
        headers={**key, "Content-Type": f"application/json; charset={charset}"},
    )
    assert refused.status_code == 400, refused.text
    assert charset in refused.text
    assert pointer in refused.text


def test_a_form_field_named_otherwise_is_stored_under_the_records_own_name(notes):
    http, created, key = notes
    made = http.post(
        created["base_url"] + "/notes", data={"FriendlyName": "support", "text": "t"}, headers=key
    )
    assert made.status_code == 201, made.text
    assert made.json()["friendly_name"] == "support" and "FriendlyName" not in made.json()
    read = http.get(created["base_url"] + f"/notes/{made.json()['id']}", headers=key)
    assert read.json()["friendly_name"] == "support"


SSID = _object({"number": {"type": "integer"}, "name": TEXT, "networkId": TEXT}, ["number"])
NETWORK = [{"name": "networkId", "in": "path", "required": True, "schema": TEXT}]
MERAKI_SHAPED = {
    "openapi": "3.0.3",
    "info": {"title": "Meraki-shaped", "version": "1"},
    "security": [{"key": []}],
    "components": {"securitySchemes": {"key": KEY}, "schemas": {"ssid": SSID}},
    "paths": {
        "/networks/{networkId}/ssids": {
            "parameters": NETWORK,
            "get": {
                "operationId": "listSsids",
                "responses": {
                    "200": _json({"type": "array", "items": {"$ref": "#/components/schemas/ssid"}})
                },
            },
            "post": {
                "operationId": "createSsid",
                "requestBody": {"content": {"application/json": {"schema": _object({"name": TEXT})}}},
                "responses": {"201": _json({"$ref": "#/components/schemas/ssid"})},
            },
        },
        "/networks/{networkId}/ssids/{number}": {
            "parameters": [
                *NETWORK,
                {"name": "number", "in": "path", "required": True, "schema": {"type": "integer"}},
            ],
            "get": {
                "operationId": "getSsid",
                "responses": {"200": _json({"$ref": "#/components/schemas/ssid"}), "404": NOT_FOUND},
            },
            "put": {
                "operationId": "updateSsid",
                "requestBody": {"content": {"application/json": {"schema": _object({"name": TEXT})}}},
                "responses": {"200": _json({"$ref": "#/components/schemas/ssid"}), "404": NOT_FOUND},
            },
            "delete": {
                "operationId": "deleteSsid",
                "responses": {"204": {"description": "gone"}, "404": NOT_FOUND},
            },
        },
    },
}


def test_a_nested_record_is_found_under_its_own_parent_only(tmp_path_factory):
    with _served(_load(tmp_path_factory, MERAKI_SHAPED), sizes={"ssids": 3}) as (http, created):
        key, base = {"X-Key": created["client_secret"]}, created["base_url"]
        made = http.post(base + "/networks/N_1/ssids", json={"name": "guest"}, headers=key)
        assert made.status_code == 201, made.text
        ssid = made.json()
        assert ssid["networkId"] == "N_1"  # the parent field, from the path
        number = ssid["number"]
        assert http.get(base + f"/networks/N_1/ssids/{number}", headers=key).json()["name"] == "guest"
        assert http.get(base + f"/networks/N_2/ssids/{number}", headers=key).status_code == 404
        assert (
            http.put(base + f"/networks/N_2/ssids/{number}", json={"name": "x"}, headers=key).status_code
            == 404
        )
        assert http.delete(base + f"/networks/N_2/ssids/{number}", headers=key).status_code == 404
        here = [s["number"] for s in http.get(base + "/networks/N_1/ssids", headers=key).json()]
        there = [s["number"] for s in http.get(base + "/networks/N_2/ssids", headers=key).json()]
        assert number in here and number not in there
        assert http.delete(base + f"/networks/N_1/ssids/{number}", headers=key).status_code == 204


NULLABLE = {
    "openapi": "3.0.3",
    "info": {"title": "Nullable without a type", "version": "1"},
    "components": {"schemas": {"user": _object({"login": TEXT}, ["login"])}},
    "paths": {
        "/properties": {
            "patch": {
                "operationId": "setProperties",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": _object(
                                {
                                    # GitHub: custom-property default_value; nullable-simple-user
                                    "default_value": {
                                        "oneOf": [TEXT, {"type": "array", "items": TEXT}],
                                        "nullable": True,
                                    },
                                    "owner": {
                                        "allOf": [{"$ref": "#/components/schemas/user"}],
                                        "nullable": True,
                                    },
                                }
                            )
                        }
                    }
                },
                "responses": {"200": {"description": "ok"}},
            }
        }
    },
}


@pytest.mark.parametrize(
    "body, pointers",
    [
        ({"default_value": None, "owner": None}, []),
        ({"default_value": ["a"], "owner": {"login": "o"}}, []),
        ({"default_value": 5}, ["/body/default_value"]),
        ({"owner": {}}, ["/body/owner"]),
    ],
)
def test_nullable_without_a_type_allows_null_and_nothing_else_new(tmp_path_factory, body, pointers):
    contract = _load(tmp_path_factory, NULLABLE)
    headers = {"content-type": "application/json"}
    _, found = validate_request(contract, "PATCH", "/properties", {}, headers, json.dumps(body).encode())
    assert [v.pointer for v in found] == pointers


def test_a_multi_segment_path_parameter_holds_slashes_and_others_do_not(tmp_path_factory):
    ref = {"name": "ref", "in": "path", "required": True, "schema": TEXT}
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "Git refs", "version": "1"},
        "paths": {
            # GitHub's GET /repos/{owner}/{repo}/git/ref/{ref}, `ref` marked x-multi-segment
            "/git/ref/{ref}": {
                "get": {
                    "operationId": "getRef",
                    "parameters": [{**ref, "x-multi-segment": True}],
                    "responses": {"200": {"description": "ok"}},
                }
            },
            "/tags/{ref}": {
                "get": {
                    "operationId": "getTag",
                    "parameters": [ref],
                    "responses": {"200": {"description": "ok"}},
                }
            },
        },
    }
    contract = _load(tmp_path_factory, doc)
    found = contract.router.match("GET", "/git/ref/heads/feature-a")
    assert found is not None and found.path_params == {"ref": "heads/feature-a"}
    assert contract.router.match("GET", "/tags/heads/feature-a") is None


def test_a_template_matching_segment_by_segment_wins_over_a_multi_segment_parameter(tmp_path_factory):
    """GitHub's `GET /repos/{owner}/{repo}/commits/{ref}` (`ref` multi-segment) sorts before
    `.../commits/{ref}/check-suites`: `/commits/0/check-suites` went to the commit, whose
    contract knows no `app_id`, a 400 for a valid request. A `ref` that holds `/` is the
    fallback only: `/commits/heads/main` still reads the commit."""
    ref = {"name": "ref", "in": "path", "required": True, "schema": TEXT}
    app_id = {"name": "app_id", "in": "query", "schema": {"type": "integer"}}
    ok = {"200": {"description": "ok"}}
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "Commits", "version": "1"},
        "paths": {
            "/commits/{ref}": {
                "get": {
                    "operationId": "getCommit",
                    "parameters": [{**ref, "x-multi-segment": True}],
                    "responses": ok,
                }
            },
            "/commits/{ref}/check-suites": {
                "get": {"operationId": "listSuites", "parameters": [ref, app_id], "responses": ok}
            },
        },
    }
    contract = _load(tmp_path_factory, doc)
    found = contract.router.match("GET", "/commits/0/check-suites")
    assert found is not None and found.operation.operation_id == "listSuites"
    assert found.path_params == {"ref": "0"}
    assert validate_request(contract, "GET", "/commits/0/check-suites", {"app_id": ["1"]}, {}, b"")[1] == []
    found = contract.router.match("GET", "/commits/heads/main")
    assert found is not None and found.operation.operation_id == "getCommit"
    assert found.path_params == {"ref": "heads/main"}
