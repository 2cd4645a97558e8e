"""INT-06 judged from recorded evidence: a retried, already committed create makes no duplicate."""

from __future__ import annotations

from harness.checks.retried_push import commit_then_fail, judge_no_duplicate, judge_pushed
from harness.connectors import ConnectorFailed
from harness.core import Fault
from tests.unit.checks.evidence import change, log, request

CREATE = "createContact"


def create(seq: int, key: str | None, status: int = 201, faults: tuple[str, ...] = ()):
    headers = {"idempotency-key": key} if key else {}
    return request(seq, status, operation=CREATE, method="POST", headers=headers, faults=list(faults))


def created(*ids: str) -> list:
    return [change(i + 1, "created", record_id, by="api") for i, record_id in enumerate(ids)]


def test_the_fault_is_a_commit_then_a_502_or_a_dropped_connection():
    assert commit_then_fail(True, CREATE) == (Fault.error_after_commit(502, CREATE), "502")
    assert commit_then_fail(False, CREATE) == (Fault.dropped(CREATE), "dropped connection")


def test_pushed_passes_once_the_fault_fired_on_a_create():
    entries = log(create(1, "k1", 502, ("status_after",)), create(2, "k1"))
    assert judge_pushed(entries, CREATE, "contacts", 2, None) is None


def test_a_push_that_never_reached_the_create_proves_nothing():
    error = ConnectorFailed("push(stream, records)", ValueError("bad"))
    finding = judge_pushed(log(request(1)), CREATE, "contacts", 2, error)
    assert finding is not None
    assert finding.message == (
        "pushing 2 contacts records made no createContact request: "
        "push(stream, records) raised ValueError: bad"
    )
    assert finding.expected == "push() creates each record with createContact"


def test_no_duplicate_passes_when_each_record_exists_once():
    creates = log(create(1, "k1", 502, ("status_after",)), create(2, "k1"), create(3, "k2"))
    assert judge_no_duplicate(creates, created("con_1", "con_2"), 2, "contacts", CREATE, "502") is None


def test_a_retry_with_a_fresh_key_is_named():
    creates = log(create(1, "k1", 502, ("status_after",)), create(2, "k1b"), create(3, "k2"))
    finding = judge_no_duplicate(creates, created("con_1", "con_2", "con_3"), 2, "contacts", CREATE, "502")
    assert finding is not None
    assert "pushing 2 contacts records created 3 (ids con_1, con_2, con_3)" in finding.message
    assert "after the 502 on an already committed createContact" in finding.message
    assert (
        "its retry carried a different Idempotency-Key from the request it retried (3 keys for 2 records)"
        in (finding.message)
    )
    assert finding.details["idempotency_keys"] == ["k1", "k1b", "k2"]


def test_a_retry_without_a_key_is_named():
    creates = log(create(1, None, 502, ("drop",)), create(2, None), create(3, None))
    finding = judge_no_duplicate(
        creates, created("con_1", "con_2", "con_3"), 2, "contacts", CREATE, "dropped connection"
    )
    assert finding is not None
    assert "3 of its 3 createContact requests had no Idempotency-Key" in finding.message
    assert "after the dropped connection" in finding.message


def test_a_keyed_retry_the_platform_did_not_replay_is_named():
    creates = log(create(1, "k1", 502, ("status_after",)), create(2, "k1"), create(3, "k2"))
    finding = judge_no_duplicate(creates, created("con_1", "con_2", "con_3"), 2, "contacts", CREATE, "502")
    assert finding is not None and "the platform did not replay the keyed retry" in finding.message
