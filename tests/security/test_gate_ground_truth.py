"""Ground truth is the platform before the connector ran plus the harness's own changes: what
the connector changes through the API never moves it."""

from __future__ import annotations

import httpx
import pytest

import harness.runtime
from harness.checks.integrity import _apply_harness_changes
from harness.core import ChangeEvent


@pytest.fixture(scope="module")
def sandbox(platform_contract):
    with harness.runtime.embedded(platform_contract) as handle:
        yield handle


def test_only_the_harness_changes_move_ground_truth():
    before = {"contacts": {"con_1": {"id": "con_1", "v": 1}, "con_2": {"id": "con_2", "v": 1}}}
    changes = [
        {"seq": 1, "type": "deleted", "collection": "contacts", "id": "con_1", "by": "api", "record": None},
        {
            "seq": 2,
            "type": "updated",
            "collection": "contacts",
            "id": "con_2",
            "by": "harness",
            "record": {"id": "con_2", "v": 2},
        },
        {
            "seq": 3,
            "type": "created",
            "collection": "contacts",
            "id": "con_3",
            "by": "harness",
            "record": {"id": "con_3", "v": 1},
        },
        {"seq": 4, "type": "deleted", "collection": "contacts", "id": "con_3", "by": "api", "record": None},
    ]
    truth = _apply_harness_changes(before, [ChangeEvent.from_json(c) for c in changes])
    assert truth["contacts"] == {
        "con_1": {"id": "con_1", "v": 1},  # the connector deleted it: still expected in its replica
        "con_2": {"id": "con_2", "v": 2},
        "con_3": {"id": "con_3", "v": 1},
    }
    assert before["contacts"]["con_2"]["v"] == 1  # the snapshot itself is untouched


def test_the_sandbox_says_who_made_each_change(sandbox):
    tenant = sandbox.new_tenant(seed=1, sizes={"contacts": 2})
    victim = tenant.records("contacts")[0]["id"]
    token = httpx.post(
        tenant.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": tenant.client_id,
            "client_secret": tenant.client_secret,
            "scope": "contacts:write contacts:read",
        },
    ).json()["access_token"]
    deleted = httpx.delete(
        f"{tenant.base_url}/v1/contacts/{victim}", headers={"Authorization": f"Bearer {token}"}
    )
    assert deleted.status_code == 204
    tenant.churn(2, seed=3, collections=["contacts"])
    changes = tenant.changes()
    assert changes[0].by == "api" and changes[0].id == victim and changes[0].record is None
    assert {c.by for c in changes[1:]} == {"harness"}
    assert all(c.record is not None for c in changes[1:] if c.type != "deleted")
