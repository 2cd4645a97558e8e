"""INT-01, INT-02, INT-03 and the sync judgements they share, judged from recorded evidence."""

from __future__ import annotations

from collections import Counter

from harness.checks.integrity import (
    judge_base_sync,
    judge_churn_converged,
    judge_churned,
    judge_full_sync,
    judge_incremental,
    judge_reread,
)
from harness.checks.sync_judgements import checkpointed, describe_diffs, stream_lists, sync_completed
from tests.unit.checks.evidence import log, request, stream_diff, sync_step

LIST_OPS = {"listContacts": "contacts", "listDeals": "deals"}
EDITS = {"created": ["con_9", "con_10"], "updated": ["con_2"], "deleted": ["con_1"]}


def lists(n: int, operation: str = "listContacts", start: int = 1) -> list:
    return [request(start + i, operation=operation) for i in range(n)]


# -- shared sync judgements ----------------------------------------------------------------------


def test_a_completed_sync_passes_and_one_that_raised_names_the_error_and_failed_requests():
    assert sync_completed(sync_step(request(1)), "sync(None) returns normally") is None
    step = sync_step(request(1), request(2, 500), what="the full sync", error="boom")
    finding = sync_completed(step, "sync(None) returns normally")
    assert finding is not None
    assert finding.message.startswith("the full sync did not complete: sync(state) raised RuntimeError: boom")
    assert finding.expected == "sync(None) returns normally"
    assert [r.seq for r in finding.requests] == [2]


def test_a_full_sync_must_leave_a_checkpoint():
    assert checkpointed("the full sync", {"cursor": "c_1"}) is None
    finding = checkpointed("the full sync", None)
    assert finding is not None
    assert "completed without a single checkpoint" in finding.message
    assert "sink.checkpoint(state)" in finding.expected


def test_stream_lists_counts_only_answered_list_requests_per_stream():
    entries = log(
        request(1), request(2, 429), request(3, operation="listDeals"), request(4, operation="getX")
    )
    assert stream_lists(entries, LIST_OPS) == Counter({"contacts": 1, "deals": 1})


def test_describe_diffs_names_each_miss_by_the_change_it_missed():
    diff = stream_diff(lost=["con_9", "con_3"], extra=["con_1", "con_7"], stale={"con_2": ["name"]})
    changed = {"contacts": {"con_9": "created", "con_1": "deleted", "con_2": "updated"}}
    text = describe_diffs([diff], changed, "since the full sync")
    assert "contacts: missed 1 record created since the full sync (e.g. con_9)" in text
    assert "contacts: lost 1 of 10 records (e.g. con_3)" in text
    assert "contacts: kept 1 record deleted since the full sync (e.g. con_1)" in text
    assert "contacts: stored 1 record the platform does not have (e.g. con_7)" in text
    assert (
        "contacts: 1 record updated since the full sync still holds old or wrong values (e.g. con_2: name)"
        in text
    )
    assert describe_diffs([]) == ""


# -- INT-01 -------------------------------------------------------------------------------------


def test_full_sync_passes_when_every_record_is_stored_once_and_equal():
    upserts = {"contacts": Counter({"con_1": 1, "con_2": 1})}
    assert judge_full_sync([], upserts, log(*lists(2)), sizes={"contacts": 2}) is None


def test_full_sync_names_lost_extra_doubled_and_changed_records():
    diffs = [
        stream_diff(
            truth=700, lost=[f"con_{i}" for i in range(600)], extra=["con_x"], stale={"con_5": ["email"]}
        )
    ]
    upserts = {"contacts": Counter({"con_1": 1, "con_2": 3})}
    finding = judge_full_sync(diffs, upserts, log(*lists(1)), sizes={"contacts": 700})
    assert finding is not None
    assert "contacts: lost 600 of 700 records (e.g. con_0)" in finding.message
    assert "contacts: stored 1 records the platform does not have (e.g. con_x)" in finding.message
    assert "contacts: wrote 1 records more than once (e.g. con_2 3 times)" in finding.message
    assert "contacts: 1 records differ from the platform's (e.g. con_5: email)" in finding.message
    assert finding.details["sizes"] == {"contacts": 700}
    assert len(finding.requests) == 1


def test_full_sync_catches_a_record_written_twice_even_when_the_replica_is_equal():
    finding = judge_full_sync([], {"contacts": Counter({"con_1": 2})}, log(), sizes={"contacts": 1})
    assert finding is not None and "wrote 1 records more than once (e.g. con_1 2 times)" in finding.message


# -- INT-02 -------------------------------------------------------------------------------------


def test_base_sync_passes_when_equal_and_otherwise_points_at_int_01():
    assert judge_base_sync([]) is None
    finding = judge_base_sync([stream_diff(lost=["con_3"])])
    assert finding is not None
    assert "already wrong (see INT-01): contacts: lost 1 of 10 records (e.g. con_3)" in finding.message


def test_incremental_passes_when_the_replica_caught_up():
    assert judge_incremental([], {}, sync_step(), {"contacts": EDITS}) is None


def test_incremental_names_the_deletions_it_kept():
    step = sync_step(request(7), what="the incremental sync", state={"cursor": "c_5"})
    finding = judge_incremental(
        [stream_diff(extra=["con_1"])], {"contacts": {"con_1": "deleted"}}, step, {"contacts": EDITS}
    )
    assert finding is not None
    assert "contacts: kept 1 record deleted since the full sync (e.g. con_1)" in finding.message
    assert finding.details["state"] == {"cursor": "c_5"}
    assert finding.details["changes"] == {"contacts": EDITS}


def test_incremental_names_missed_creates_and_stale_updates():
    changed = {"contacts": {"con_9": "created", "con_2": "updated"}}
    diffs = [stream_diff(lost=["con_9"], stale={"con_2": ["name"]})]
    finding = judge_incremental(diffs, changed, sync_step(), {"contacts": EDITS})
    assert finding is not None
    assert "missed 1 record created since the full sync" in finding.message
    assert "updated since the full sync still holds old or wrong values (e.g. con_2: name)" in finding.message


def test_reread_passes_for_fewer_lists_than_the_full_sync_and_for_single_page_streams():
    made = {"contacts": EDITS}
    assert judge_reread(Counter({"contacts": 3}), log(*lists(1)), LIST_OPS, made) is None
    assert judge_reread(Counter({"contacts": 1}), log(*lists(1)), LIST_OPS, made) is None


def test_reread_fails_an_incremental_sync_that_lists_everything_again():
    finding = judge_reread(Counter({"contacts": 2}), log(*lists(2)), LIST_OPS, {"contacts": EDITS})
    assert finding is not None
    assert finding.message == (
        "the incremental sync read contacts again in full: 2 contacts list requests, "
        "as many as the full sync's 2, for 4 changed records"
    )
    assert finding.details["incremental"] == {"contacts": 2}


# -- INT-03 -------------------------------------------------------------------------------------


def test_churned_passes_once_data_changed_and_fails_a_sync_that_read_one_page():
    assert judge_churned({"contacts": {"con_1": "updated"}}, 250, log()) is None
    finding = judge_churned({}, 250, log(*lists(1)))
    assert finding is not None
    assert "the data never changed during the full sync" in finding.message
    assert "each holds 250 records" in finding.message


def test_churn_converged_passes_when_equal_and_names_records_deleted_while_it_paged():
    during = {"contacts": {"con_4": "deleted", "con_5": "updated"}}
    assert judge_churn_converged([], during, log()) is None
    faulted = log(request(2, faults=["churn"]))
    finding = judge_churn_converged([stream_diff(extra=["con_4"])], during, faulted)
    assert finding is not None
    assert "contacts: kept 1 record deleted while it paged (e.g. con_4)" in finding.message
    assert "(2 records changed during the full sync;" in finding.message
    assert [r.seq for r in finding.requests] == [2]
