"""pydo (DigitalOcean's official Python SDK, generated with AutoRest on azure-core) against the
sandbox serving DigitalOcean's published spec (`api/digitalocean.com.json`): SSH keys
(`/v2/account/keys`, `/v2/account/keys/{ssh_key_identifier}`), every single-key body wrapped in
`{"ssh_key": {...}}`, the tenant's client secret as the bearer token (`bearer_auth`). Only the
endpoint changes: pydo's operations carry the `/v2/...` path themselves and azure-core joins it
onto the endpoint's own path, so the tenant's base URL is the endpoint as it is. azure-core
refuses to send a bearer token over plain HTTP, so the sandbox serves HTTPS with the run's CA,
which the client trusts (`connection_verify`, azure-core's transport option for a private CA).

pydo returns plain dicts and answers some documented error statuses instead of raising: `get`
and `delete` return the 404 body (`{"id": "not_found", ...}`), so the tests read the status
through azure-core's `cls` hook, as a caller that needs it would."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

pydo = pytest.importorskip("pydo")
from azure.core.exceptions import ClientAuthenticationError  # noqa: E402

from harness.runtime.tls import ca_for  # noqa: E402

VENDOR = "digitalocean"
TLS = True  # the conftest's sandbox serves HTTPS

PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq0ZbQ0dXyTq1yJcJmVvJ4bM9lXbX1wQz9cJ0b2nQ1h ada@example"


def _client(tenant, token: str | None = None):
    return pydo.Client(
        token=token or tenant.client_secret,
        endpoint=tenant.base_url,
        connection_verify=str(ca_for(tenant.base_url)),
        retry_total=0,
    )


def _with_status(response, body, headers):
    """azure-core's `cls` hook: the HTTP status beside the body pydo would return."""
    return response.http_response.status_code, body


@pytest.fixture
def key(tenant):
    made = _client(tenant).ssh_keys.create({"name": "laptop", "public_key": PUBLIC_KEY})
    return made["ssh_key"]


def test_create(key):
    assert key["id"] and key["name"] == "laptop" and key["public_key"] == PUBLIC_KEY


def test_read_back(tenant, key):
    got = _client(tenant).ssh_keys.get(key["id"])["ssh_key"]
    assert got["id"] == key["id"] and got["public_key"] == PUBLIC_KEY


def test_update(tenant, key):
    keys = _client(tenant).ssh_keys
    assert keys.update(key["id"], {"name": "desktop"})["ssh_key"]["name"] == "desktop"
    got = keys.get(key["id"])["ssh_key"]
    assert got["name"] == "desktop" and got["public_key"] == PUBLIC_KEY


def test_delete_then_read_after_delete(tenant, key):
    keys = _client(tenant).ssh_keys
    assert keys.delete(key["id"], cls=_with_status) == (204, None)
    status, body = keys.get(key["id"], cls=_with_status)
    assert status == 404 and body["id"] and body["message"]


def test_paging(tenant):
    # pydo's README: read `links.pages.next` and take its `page` query parameter.
    keys = _client(tenant).ssh_keys
    made = {
        keys.create({"name": f"k{i}", "public_key": f"{PUBLIC_KEY}{i}"})["ssh_key"]["id"] for i in range(5)
    }
    seen: list[int] = []
    page, pages = 1, 0
    while page and pages < 500:
        answer = keys.list(per_page=25, page=page)
        seen += [k["id"] for k in answer["ssh_keys"]]
        pages += 1
        following = ((answer.get("links") or {}).get("pages") or {}).get("next")
        page = int(parse_qs(urlparse(following).query)["page"][0]) if following else 0
    assert made <= set(seen) and len(seen) == len(set(seen))
    assert pages >= 3 and answer["meta"]["total"] == len(seen)


def test_wrong_credential(tenant):
    with pytest.raises(ClientAuthenticationError) as refused:
        _client(tenant, "dop_v1_wrong").ssh_keys.list(per_page=2)
    assert refused.value.status_code == 401
