"""Nested collections in a Twilio-shaped contract: records scoped by their parent (seed records
spread over the parent collection's first records), and paging links declared `format: uri`
served as absolute URLs (also reached when an SDK concatenates them to its base URL, as
twilio-python does), with page number and token together (`Page` from 0, `PageToken`)."""

from __future__ import annotations

import json

from starlette.testclient import TestClient

from harness.contract import load, validate_response
from harness.sandbox.app import Sandbox

TEXT = {"type": "string"}
URI = {"type": "string", "format": "uri", "nullable": True}
SID = {"name": "Sid", "in": "path", "required": True, "schema": TEXT}
ACCOUNT = {"name": "AccountSid", "in": "path", "required": True, "schema": TEXT}
PAGING = [
    {"name": "PageSize", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
    {"name": "Page", "in": "query", "schema": {"type": "integer", "minimum": 0}},
    {"name": "PageToken", "in": "query", "schema": TEXT},
]
NOT_FOUND = {"description": "no such record"}


def _obj(props):
    return {"type": "object", "properties": props}


def _json(schema):
    return {"description": "ok", "content": {"application/json": {"schema": schema}}}


def _list(name, ref):
    return _obj(
        {
            name: {"type": "array", "items": {"$ref": ref}},
            "next_page_uri": URI,
            "previous_page_uri": URI,
            "first_page_uri": {"type": "string", "format": "uri"},
            "uri": {"type": "string", "format": "uri"},
            "page": {"type": "integer"},
            "page_size": {"type": "integer"},
        }
    )


TWILIO_SHAPED = {
    "openapi": "3.0.3",
    "info": {"title": "Twilio-shaped", "version": "1"},
    "security": [{"key": []}],
    "components": {
        "securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-Key"}},
        "schemas": {
            "account": _obj({"sid": {"type": "string", "pattern": "^AC[0-9a-f]{8}$"}, "name": TEXT}),
            "queue": _obj(
                {
                    "sid": {"type": "string", "pattern": "^QU[0-9a-f]{8}$"},
                    "account_sid": TEXT,
                    "name": TEXT,
                    "uri": {"type": "string", "format": "uri"},
                }
            ),
        },
    },
    "paths": {
        "/Accounts": {
            "get": {
                "operationId": "listAccounts",
                "responses": {"200": _json(_list("accounts", "#/components/schemas/account"))},
            }
        },
        "/Accounts/{Sid}": {
            "parameters": [SID],
            "get": {
                "operationId": "getAccount",
                "responses": {"200": _json({"$ref": "#/components/schemas/account"}), "404": NOT_FOUND},
            },
        },
        "/Accounts/{AccountSid}/Queues": {
            "parameters": [ACCOUNT],
            "get": {
                "operationId": "listQueues",
                "parameters": PAGING,
                "responses": {"200": _json(_list("queues", "#/components/schemas/queue"))},
            },
            "post": {
                "operationId": "createQueue",
                "requestBody": {"content": {"application/json": {"schema": _obj({"name": TEXT})}}},
                "responses": {"201": _json({"$ref": "#/components/schemas/queue"})},
            },
        },
        "/Accounts/{AccountSid}/Queues/{Sid}": {
            "parameters": [ACCOUNT, SID],
            "get": {
                "operationId": "getQueue",
                "responses": {"200": _json({"$ref": "#/components/schemas/queue"}), "404": NOT_FOUND},
            },
        },
    },
}


def contract_of(folder, doc):
    path = folder / "twilio-shaped.json"
    path.write_text(json.dumps(doc))
    return load(path)


def _tenant(http):
    made = http.post("/_sandbox/tenants", json={"seed": 3}, headers={"Authorization": "Bearer adm"})
    assert made.status_code == 201, made.text
    created = made.json()
    return {"X-Key": created["client_secret"]}, created["base_url"]


def test_paging_inference_reads_uri_links_and_the_first_page_number(tmp_path):
    pag = contract_of(tmp_path, TWILIO_SHAPED).collections["Queues"].pagination
    assert (pag.style, pag.cursor_param, pag.page_param, pag.first_page) == ("cursor", "PageToken", "Page", 0)
    assert (pag.next_field, dict(pag.links)) == (
        "next_page_uri",
        {"previous_page_uri": "previous", "first_page_uri": "first"},
    )


def test_seed_records_are_spread_over_the_parents_and_read_under_their_own_only(tmp_path):
    with TestClient(Sandbox(contract_of(tmp_path, TWILIO_SHAPED), admin_token="adm").app) as http:
        key, base = _tenant(http)
        accounts = [a["sid"] for a in http.get(base + "/Accounts", headers=key).json()["accounts"]]
        pages = {
            a: http.get(base + f"/Accounts/{a}/Queues", params={"PageSize": 100}, headers=key).json()[
                "queues"
            ]
            for a in accounts[:4]
        }
        assert all(pages[a] for a in accounts[:3]) and not pages[accounts[3]]  # three parents hold them
        assert all({q["account_sid"] for q in pages[a]} == {a} for a in accounts[:3])
        seeded = pages[accounts[0]][0]["sid"]
        assert http.get(base + f"/Accounts/{accounts[0]}/Queues/{seeded}", headers=key).status_code == 200
        assert http.get(base + f"/Accounts/{accounts[1]}/Queues/{seeded}", headers=key).status_code == 404


def test_uri_links_are_absolute_urls_and_page_both_ways(tmp_path):
    contract = contract_of(tmp_path, TWILIO_SHAPED)
    with TestClient(Sandbox(contract, admin_token="adm").app) as http:
        key, base = _tenant(http)
        account = http.get(base + "/Accounts", headers=key).json()["accounts"][0]["sid"]
        listed = http.get(base + f"/Accounts/{account}/Queues", params={"PageSize": 2}, headers=key)
        first = listed.json()
        assert (
            validate_response(
                contract, contract.operation("listQueues"), 200, dict(listed.headers), listed.content
            )
            == []
        )
        assert first["page"] == 0 and first["previous_page_uri"] is None
        assert first["next_page_uri"].startswith(f"{base}/Accounts/{account}/Queues?")
        assert "Page=1" in first["next_page_uri"] and "PageToken=" in first["next_page_uri"]
        queue = first["queues"][0]["sid"]
        assert first["queues"][0]["uri"] == f"{base}/Accounts/{account}/Queues/{queue}"
        second = http.get(first["next_page_uri"], headers=key).json()
        assert second["page"] == 1 and {q["sid"] for q in second["queues"]}.isdisjoint(
            q["sid"] for q in first["queues"]
        )
        back = http.get(second["previous_page_uri"], headers=key).json()
        assert [q["sid"] for q in back["queues"]] == [q["sid"] for q in first["queues"]]
        again = http.get(second["first_page_uri"], headers=key).json()
        assert [q["sid"] for q in again["queues"]] == [q["sid"] for q in first["queues"]]


def test_a_link_an_sdk_concatenated_to_its_base_url_is_served_as_the_link(tmp_path):
    """twilio-python builds the next page as `base_url + "/" + next_page_uri`: the request names
    the page's absolute URL inside the tenant's path, and gets that page; an embedded URL of
    another tenant is not followed."""
    with TestClient(Sandbox(contract_of(tmp_path, TWILIO_SHAPED), admin_token="adm").app) as http:
        key, base = _tenant(http)
        account = http.get(base + "/Accounts", headers=key).json()["accounts"][0]["sid"]
        first = http.get(base + f"/Accounts/{account}/Queues", params={"PageSize": 2}, headers=key).json()
        direct = http.get(first["next_page_uri"], headers=key)
        joined = http.get(base + "/" + first["next_page_uri"].strip("/"), headers=key)
        assert joined.status_code == 200 and joined.json()["queues"] == direct.json()["queues"]
        other = first["next_page_uri"].replace(base, "http://testserver/t/someone-else")
        assert http.get(f"{base}/{other}", headers=key).status_code == 404
