"""Paging links held two levels down, behind `anyOf`/`allOf` (DigitalOcean's lists:
`links.pages` is `anyOf` `{last, next}` / `{first, prev}`, each a plain string whose example is
a URL; `meta` is an `allOf` requiring `total`): read from the contract and served, so a client
that follows `links.pages.next` pages through every record, and `meta.total` counts them."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest
from starlette.testclient import TestClient

from harness.contract import load, validate_response
from harness.contract.collections import _is_url
from harness.sandbox.app import Sandbox


def _link(name, page):
    return {
        "type": "object",
        "properties": {name: {"type": "string", "example": f"https://api.example.com/v2/keys?page={page}"}},
    }


PAGES = {
    "anyOf": [
        {"allOf": [_link("last", 9), _link("next", 2)]},
        {"allOf": [_link("first", 1), _link("prev", 1)]},
        {},
    ]
}
KEY = {
    "type": "object",
    "required": ["name"],
    "properties": {"id": {"type": "integer", "readOnly": True}, "name": {"type": "string"}},
}
ONE = {"type": "object", "properties": {"key": {"$ref": "#/components/schemas/key"}}}
DO_SHAPED = {
    "openapi": "3.0.3",
    "info": {"title": "DigitalOcean-shaped", "version": "1"},
    "security": [{"bearer": []}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {"key": KEY},
    },
    "paths": {
        "/v2/keys": {
            "get": {
                "operationId": "listKeys",
                "parameters": [
                    {
                        "name": "per_page",
                        "in": "query",
                        "schema": {"type": "integer", "default": 20, "maximum": 200},
                    },
                    {
                        "name": "page",
                        "in": "query",
                        "schema": {"type": "integer", "default": 1, "minimum": 1},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "allOf": [
                                        {
                                            "properties": {
                                                "keys": {
                                                    "type": "array",
                                                    "items": {"$ref": "#/components/schemas/key"},
                                                }
                                            }
                                        },
                                        {
                                            "type": "object",
                                            "properties": {
                                                "links": {"type": "object", "properties": {"pages": PAGES}}
                                            },
                                        },
                                        {
                                            "type": "object",
                                            "required": ["meta"],
                                            "properties": {
                                                "meta": {
                                                    "allOf": [
                                                        {
                                                            "type": "object",
                                                            "properties": {"total": {"type": "integer"}},
                                                        },
                                                        {"required": ["total"]},
                                                    ]
                                                }
                                            },
                                        },
                                    ]
                                }
                            }
                        },
                    }
                },
            },
            "post": {
                "operationId": "createKey",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/key"}}},
                },
                "responses": {
                    "201": {"description": "made", "content": {"application/json": {"schema": ONE}}}
                },
            },
        },
        "/v2/keys/{key_id}": {
            "parameters": [{"name": "key_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "get": {
                "operationId": "getKey",
                "responses": {
                    "200": {"description": "ok", "content": {"application/json": {"schema": ONE}}},
                    "404": {"description": "no such key"},
                },
            },
        },
    },
}


def _contract(tmp_path):
    path = tmp_path / "do-shaped.json"
    path.write_text(json.dumps(DO_SHAPED))
    return load(path)


def test_links_two_levels_down_behind_anyof_are_read_as_page_links(tmp_path):
    pag = _contract(tmp_path).collections["keys"].pagination
    assert (pag.style, pag.page_param, pag.limit_param) == ("page", "page", "per_page")
    assert (pag.next_field, pag.next_is_url) == ("links.pages.next", True)
    assert dict(pag.links) == {
        "links.pages.last": "last",
        "links.pages.first": "first",
        "links.pages.prev": "previous",
    }


def test_following_links_pages_next_reaches_every_record_and_meta_counts_them(tmp_path):
    contract = _contract(tmp_path)
    with TestClient(Sandbox(contract, admin_token="adm").app) as http:
        made = http.post("/_sandbox/tenants", json={"seed": 3}, headers={"Authorization": "Bearer adm"})
        assert made.status_code == 201, made.text
        base, secret = made.json()["base_url"], made.json()["client_secret"]
        auth = {"Authorization": f"Bearer {secret}"}
        mine = {
            http.post(base + "/v2/keys", json={"name": f"k{i}"}, headers=auth).json()["key"]["id"]
            for i in range(3)
        }
        seen, page, answers = [], 1, []
        while page and len(answers) < 500:
            listed = http.get(base + "/v2/keys", params={"per_page": 7, "page": page}, headers=auth)
            assert (
                validate_response(
                    contract, contract.operation("listKeys"), 200, dict(listed.headers), listed.content
                )
                == []
            )
            answers.append(listed.json())
            seen += [k["id"] for k in answers[-1]["keys"]]
            following = answers[-1].get("links", {}).get("pages", {}).get("next")
            page = int(parse_qs(urlparse(following).query)["page"][0]) if following else 0
        assert mine <= set(seen) and len(seen) == len(set(seen)) and len(answers) >= 2
        assert {a["meta"]["total"] for a in answers} == {len(seen)}
        first, last = answers[0]["links"]["pages"], answers[-1]["links"]["pages"]
        assert "prev" not in first and "next" not in last
        assert last["prev"].startswith(base + "/v2/keys?") and "page=1" in last["first"]
        assert parse_qs(urlparse(first["last"]).query)["page"] == [str(len(answers))]


@pytest.mark.parametrize(
    ("schema", "link"),
    [
        ({"type": "string", "format": "uri"}, True),
        ({"type": "string", "example": "https://api.example.com/v2/keys?page=2"}, True),
        ({"type": "string", "description": "URI of the next page of the results."}, True),
        ({"type": "string", "description": "The URL of the next page."}, True),
        (
            {"type": "string", "example": "eyJvZmZzZXQiOjJ9", "description": "Cursor for the next page."},
            False,
        ),
        ({"type": "integer", "example": 2, "description": "URL-safe page number"}, False),
    ],
)
def test_a_link_is_told_by_its_format_its_example_or_its_description(schema, link):
    assert _is_url(schema) is link
