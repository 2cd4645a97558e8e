"""The scenario builder's parts, with a stand-in tenant and connector: what each step records."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from harness.checks.context import compare
from harness.checks.scenario import Crash, CrashingReplica, Scenario, apply_harness_changes
from harness.connectors import Replica
from harness.core import Fault, RequestLog
from tests.unit.checks.evidence import change, delivered, log, request


class FakeTenant:
    """Answers what a Scenario asks a tenant: its request log, and the faults set on it."""

    def __init__(self) -> None:
        self.log: list = []
        self.faults: list[list[Fault]] = []
        self.cleared = 0

    def requests(self, since: int = 0) -> RequestLog:
        return log(*self.log).since(since)

    def set_faults(self, rules: list[Fault]) -> None:
        self.faults.append(rules)

    def clear_faults(self) -> None:
        self.cleared += 1


class FakeContext:
    """A CheckContext whose connector makes two list requests and stores a record per sync."""

    check_id = "INT-00"
    manifest = SimpleNamespace(streams=["contacts", "deals"])

    def __init__(self, tenant: FakeTenant, fail: bool = False) -> None:
        self.tenant, self.fail, self.calls = tenant, fail, []

    def replica(self) -> Replica:
        return Replica(id_fields={"contacts": "id"})

    def list_op(self, stream: str) -> str:
        return f"list_{stream}"

    def sync(self, tenant: Any, state: Any, *, check_first: bool, replica: Replica) -> Any:
        self.calls.append((state, check_first))
        seq = len(self.tenant.log)
        self.tenant.log += [request(seq + 1), request(seq + 2)]
        replica.upsert("contacts", {"id": f"con_{seq}"})
        replica.checkpoint({"after": seq + 2})
        return SimpleNamespace(error=RuntimeError("boom") if self.fail else None)


def scenario(fail: bool = False) -> tuple[Scenario, FakeContext]:
    tenant = FakeTenant()
    ctx = FakeContext(tenant, fail)
    return Scenario(ctx, tenant), ctx  # type: ignore[arg-type]


def test_each_sync_step_holds_only_its_own_requests_and_starts_from_the_last_checkpoint():
    sc, ctx = scenario()
    full = sc.full_sync(check_first=True)
    incremental = sc.incremental("the incremental sync")
    assert [r.seq for r in full.requests] == [1, 2] and full.state is None and full.what == "the full sync"
    assert [r.seq for r in incremental.requests] == [3, 4]
    assert incremental.state == {"after": 2}
    assert ctx.calls == [(None, True), ({"after": 2}, False)]
    assert sc.steps == [full, incremental]


def test_a_failed_sync_step_keeps_its_error():
    sc, _ = scenario(fail=True)
    assert str(sc.full_sync().error) == "boom"


def test_faults_are_cleared_after_the_block_even_when_it_raises():
    sc, ctx = scenario()
    with pytest.raises(ValueError), sc.faults(Fault.error(500)):
        raise ValueError
    assert ctx.tenant.faults == [[Fault.error(500)]] and ctx.tenant.cleared == 1


def test_churn_faults_every_synced_list_after_its_first_page():
    sc, ctx = scenario()
    with sc.churn(10):
        pass
    assert ctx.tenant.faults == [
        [
            Fault.churning(10, "list_contacts", after=1, times=2),
            Fault.churning(10, "list_deals", after=1, times=2),
        ]
    ]


def test_a_crashing_replica_fails_on_the_nth_upsert_once():
    sc, _ = scenario()
    replica = sc.crash_at(2)
    assert isinstance(replica, CrashingReplica) and sc.replica is replica
    replica.upsert("contacts", {"id": "con_1"})
    with pytest.raises(Crash, match="simulated crash while storing contacts record 2"):
        replica.upsert("contacts", {"id": "con_2"})
    assert replica.crashed
    replica.upsert("contacts", {"id": "con_2"})
    assert sorted(replica.rows["contacts"]) == ["con_1", "con_2"]


def test_a_crash_is_set_up_before_anything_is_stored():
    sc, _ = scenario()
    sc.full_sync()
    with pytest.raises(RuntimeError, match="before the replica stores anything"):
        sc.crash_at(1)


def test_only_the_harness_moves_ground_truth():
    truth = {"contacts": {"con_1": {"id": "con_1"}, "con_2": {"id": "con_2", "v": 1}}}
    changes = [
        change(1, "deleted", "con_1", by="api"),
        change(2, "updated", "con_2", v=2),
        change(3, "created", "con_3"),
        change(4, "deleted", "con_3"),
    ]
    assert apply_harness_changes(truth, changes) == {
        "contacts": {"con_1": {"id": "con_1"}, "con_2": {"id": "con_2", "v": 2}}
    }
    assert truth["contacts"]["con_2"] == {"id": "con_2", "v": 1}  # the input is left alone


def test_compare_is_none_for_equal_streams_and_names_lost_extra_and_stale_fields():
    rows = {"con_1": {"id": "con_1", "name": "A"}}
    assert compare("contacts", rows, dict(rows)) is None
    diff = compare(
        "contacts",
        {"con_1": {"id": "con_1", "name": "A"}, "con_2": {"id": "con_2"}},
        {"con_1": {"id": "con_1", "name": "B", "x": 1}, "con_3": {"id": "con_3"}},
    )
    assert diff is not None
    assert (diff.lost, diff.extra, diff.stale, diff.fields) == (
        ["con_2"],
        ["con_3"],
        ["con_1"],
        {"con_1": ["name", "x (absent on the platform)"]},
    )


def test_a_field_the_platform_left_out_is_stored_as_left_out_and_filling_it_in_is_named():
    sent = {"cus_1": {"id": "cus_1"}, "42": {"id": "42", "email": None}}
    assert compare("customers", sent, {k: dict(v) for k, v in sent.items()}) is None  # stored as sent
    filled = compare("customers", sent, {"cus_1": {"id": "cus_1", "email": None}, "42": {"id": "42"}})
    assert filled is not None and filled.fields == {
        "cus_1": ["email (absent on the platform)"],
        "42": ["email (absent in the replica)"],
    }
    assert "e.g. cus_1: email (absent on the platform)" in filled.phrase()


def test_a_delivery_is_accepted_only_with_a_2xx_and_knows_what_it_did_to_its_record():
    assert delivered(204).accepted and not delivered(400).accepted and not delivered("hung (x)").accepted
    assert delivered(503).outcome == "answered 503" and delivered("crashed (x)").outcome == "crashed (x)"
    d = delivered(204, applied=("upsert", "delete"))
    assert d.on_record() == ["upsert", "delete"]


def test_string_ids_that_read_as_numbers_are_quoted_and_ids_stored_as_numbers_are_named():
    sent = {"42": {"id": "42"}, "00042": {"id": "00042"}, "cus_1": {"id": "cus_1"}}
    diff = compare("customers", sent, {42: {"id": 42}, "cus_1": {"id": "cus_1"}})
    assert diff is not None and diff.lost == ["42", "00042"] and diff.extra == [42]
    assert diff.phrase() == (
        'customers: lost 2 of 3 records (e.g. "42"); stored 1 records the platform does not have '
        "(e.g. 42): the platform's string ids stored as numbers"
    )
    other = compare("customers", {"cus_2": {"id": "cus_2"}}, {7: {"id": 7}})
    assert other is not None and other.retyped() == "" and "(e.g. cus_2)" in other.phrase()
