"""A list page asked for again before the tenant's data changes is served from memory, and any
write, deletion or clock step in between makes the next read build the page anew."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

import harness.sandbox.pages as pages
from harness.contract import default_contract_path, load
from harness.sandbox.app import Sandbox
from harness.sandbox.store.scoped import ScopedOverlay

ADMIN = {"Authorization": "Bearer adm"}


@pytest.fixture()
def served(monkeypatch):
    """(http client, the tenant's data, its auth header, how many pages were built)."""
    built: list[str] = []
    real = pages.list_records

    def counted(col, *args):
        built.append(col.name)
        return real(col, *args)

    monkeypatch.setattr(pages, "list_records", counted)
    sandbox = Sandbox(load(default_contract_path()), admin_token="adm")
    with TestClient(sandbox.app) as http:
        made = http.post(
            "/_sandbox/tenants", json={"seed": 3, "sizes": {"contacts": 40}}, headers=ADMIN
        ).json()
        form = {
            "grant_type": "client_credentials",
            "client_id": made["client_id"],
            "client_secret": made["client_secret"],
        }
        token = http.post(made["token_url"], data=form).json()["access_token"]
        data = sandbox.tenants.get(made["id"]).data
        yield http, made["base_url"] + "/v1/contacts", data, {"Authorization": f"Bearer {token}"}, built
    sandbox.close()


def test_a_page_read_again_is_the_same_bytes_built_once(served):
    http, url, _, auth, built = served
    first = http.get(url, params={"limit": 5}, headers=auth)
    again = http.get(url, params={"limit": 5}, headers=auth)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content and again.headers["content-type"] == "application/json"
    assert built == ["contacts"]
    http.get(url, params={"limit": 6}, headers=auth)  # another page is another entry
    assert built == ["contacts", "contacts"]


def test_an_update_a_deletion_and_a_clock_step_each_rebuild_the_page(served):
    http, url, data, auth, built = served
    first = http.get(url, params={"limit": 5}, headers=auth).json()["data"]
    data.update("contacts", first[0]["id"], {"first_name": "Renamed"})
    after_update = http.get(url, params={"limit": 5}, headers=auth).json()["data"]
    assert [r["id"] for r in after_update] != [r["id"] for r in first]  # an update moves a record to the end
    everything = http.get(url, params={"limit": 50}, headers=auth).json()["data"]
    assert {r["id"]: r["first_name"] for r in everything}[first[0]["id"]] == "Renamed"
    data.delete("contacts", first[1]["id"])
    after_delete = http.get(url, params={"limit": 5}, headers=auth).json()["data"]
    assert first[1]["id"] not in [r["id"] for r in after_delete]
    count = len(built)
    data.advance(60)
    http.get(url, params={"limit": 5}, headers=auth)
    assert len(built) == count + 1


def test_a_store_without_a_version_builds_every_page(served, monkeypatch):
    http, url, _, auth, built = served
    monkeypatch.setattr(ScopedOverlay, "version", lambda self: None)  # as a shared store's overlay
    for _ in range(3):
        assert http.get(url, params={"limit": 5}, headers=auth).status_code == 200
    assert built == ["contacts"] * 3
