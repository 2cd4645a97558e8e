"""sendgrid-python (python-http-client) against the sandbox serving SendGrid's published spec:
marketing contact lists (`/v3/marketing/lists`)."""

from __future__ import annotations

import json

import pytest

sendgrid = pytest.importorskip("sendgrid")
from python_http_client.exceptions import HTTPError  # noqa: E402

VENDOR = "sendgrid"


def _client(tenant, key: str | None = None):
    # The SDK appends /v3 to host itself; the tenant's base URL already ends in the servers path.
    host = tenant.base_url.removesuffix("/v3")
    return sendgrid.SendGridAPIClient(api_key=key or tenant.client_secret, host=host)


def _json(response):
    return json.loads(response.body or b"null")


@pytest.fixture
def made(tenant):
    return _json(_client(tenant).client.marketing.lists.post(request_body={"name": "newsletter"}))


def test_create(made):
    assert made["id"] and made["name"] == "newsletter"


def test_read_back(tenant, made):
    got = _json(_client(tenant).client.marketing.lists._(made["id"]).get())
    assert got["id"] == made["id"] and got["name"] == "newsletter"


def test_update(tenant, made):
    lists = _client(tenant).client.marketing.lists
    lists._(made["id"]).patch(request_body={"name": "digest"})
    assert _json(lists._(made["id"]).get())["name"] == "digest"


def test_delete_then_read_after_delete(tenant, made):
    lists = _client(tenant).client.marketing.lists
    assert lists._(made["id"]).delete().status_code in (200, 202, 204)
    with pytest.raises(HTTPError) as refused:
        lists._(made["id"]).get()
    assert refused.value.status_code == 404


def test_paging(tenant):
    lists = _client(tenant).client.marketing.lists
    made = {_json(lists.post(request_body={"name": f"l{i}"}))["id"] for i in range(5)}
    page = _json(lists.get(query_params={"page_size": 2}))
    seen = [x["id"] for x in page["result"]]
    while (page.get("_metadata") or {}).get("next"):
        token = page["_metadata"]["next"].split("page_token=")[-1].split("&")[0]
        page = _json(lists.get(query_params={"page_size": 2, "page_token": token}))
        seen += [x["id"] for x in page["result"]]
    assert made <= set(seen) and len(seen) == len(set(seen))


def test_wrong_credential(tenant):
    with pytest.raises(HTTPError) as refused:
        _client(tenant, "SG.wrong").client.marketing.lists.get()
    assert refused.value.status_code == 401
