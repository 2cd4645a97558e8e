"""python-asana (v5, generated from Asana's OpenAPI description) against the sandbox serving
Asana's published spec (`api/asana.com.json`): tasks (`/tasks`, `/tasks/{task_gid}`), every body
in Asana's `{"data": ...}` envelope, the tenant's client secret as the personal access token
(the `personalAccessToken` bearer scheme). Only `Configuration.host` changes.

HubSpot's SDK (hubspot-api-client) is not the fifth vendor: the corpus' HubSpot CRM document
(`api/hubapi.com/crm.json`) is the CRM *cards* API (three paths under `/crm/v3/extensions/cards`,
a developer `hapikey` in the query, no paging), not the CRM objects (contacts, companies) the
SDK's `basic_api`/`get_page` calls reach."""

from __future__ import annotations

import pytest

asana = pytest.importorskip("asana")
from asana.rest import ApiException  # noqa: E402

VENDOR = "asana"


def _tasks(tenant, token: str | None = None):
    config = asana.Configuration()
    config.host = tenant.base_url  # only the host changes
    config.access_token = token or tenant.client_secret
    config.retry_strategy = None
    return asana.TasksApi(asana.ApiClient(config))


@pytest.fixture
def task(tenant):
    return _tasks(tenant).create_task({"data": {"name": "Write the report", "notes": "first"}}, {})


def test_create(task):
    assert task["gid"] and task["name"] == "Write the report"


def test_read_back(tenant, task):
    got = _tasks(tenant).get_task(task["gid"], {})
    assert got["gid"] == task["gid"] and got["notes"] == "first"


def test_update(tenant, task):
    tasks = _tasks(tenant)
    tasks.update_task({"data": {"notes": "second"}}, task["gid"], {})
    got = tasks.get_task(task["gid"], {})
    assert got["notes"] == "second" and got["name"] == "Write the report"


def test_delete_then_read_after_delete(tenant, task):
    tasks = _tasks(tenant)
    assert tasks.delete_task(task["gid"]) == {}
    with pytest.raises(ApiException) as refused:
        tasks.get_task(task["gid"], {})
    assert refused.value.status == 404


@pytest.mark.xfail(
    strict=True,
    reason="the published spec documents no field for the next page: `GET /tasks` takes `limit` "
    "and an `offset` token, but its 200 body is `{data: [TaskCompact]}` only (no `next_page`, which "
    "python-asana's PageIterator reads the next offset from), so a contract-true sandbox has nowhere "
    "to hand the token out and the SDK stops after the first page",
)
def test_paging(tenant):
    tasks = _tasks(tenant)
    made = {tasks.create_task({"data": {"name": f"t{i}"}}, {})["gid"] for i in range(5)}
    seen = [t["gid"] for t in tasks.get_tasks({"limit": 2})]
    assert made <= set(seen) and len(seen) == len(set(seen))


def test_wrong_credential(tenant):
    with pytest.raises(ApiException) as refused:
        _tasks(tenant, "0/wrong-token").get_tasks({"limit": 2}).__next__()
    assert refused.value.status == 401
