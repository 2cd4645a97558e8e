"""INT-04 judged from recorded evidence: the crash, what the resume lost, whether it started over."""

from __future__ import annotations

from harness.checks.resume import judge_crashed, judge_resume_converged, judge_resume_restarted
from harness.connectors import ConnectorFailed
from tests.unit.checks.evidence import log, replica_op, request, stream_diff

PAGE = 3


def test_crashed_passes_when_the_crash_fired_and_fails_a_sync_that_stopped_before_it():
    assert judge_crashed(True, 40, 100, None) is None
    finding = judge_crashed(False, 10, 100, None)
    assert finding is not None
    assert finding.message == (
        "the full sync stored only 10 of 100 records and returned normally, before the simulated crash"
    )
    error = ConnectorFailed("sync(state)", RuntimeError("boom"))
    finding = judge_crashed(False, 10, 100, error)
    assert (
        finding is not None and "returned an error: sync(state) raised RuntimeError: boom" in finding.message
    )


def test_resume_converged_passes_when_equal_and_blames_an_early_checkpoint():
    assert judge_resume_converged([], 45, {"cursor": "c_2"}, log()) is None
    finding = judge_resume_converged(
        [stream_diff(lost=["con_41", "con_42"])],
        45,
        {"cursor": "c_2"},
        log(request(1), request(2), request(3)),
    )
    assert finding is not None
    assert (
        'after a crash at record 46 and a resume from the last checkpoint ({"cursor": "c_2"})'
        in finding.message
    )
    assert "contacts: lost 2 of 10 records (e.g. con_41)" in finding.message
    assert "the checkpoint named a position past records it had not stored yet" in finding.message
    assert len(finding.requests) == 2
    stale = judge_resume_converged(
        [stream_diff(stale={"con_3": ["email (absent on the platform)"]})],
        45,
        {"cursor": "c_2"},
        log(),
    )
    assert stale is not None and "email (absent on the platform)" in stale.message
    assert "position past" not in stale.message  # every record is there: no checkpoint is to blame


def test_a_resume_that_restores_at_most_the_page_it_crashed_in_passes():
    before = [replica_op("upsert", f"con_{i}") for i in range(6)]
    again = [replica_op("upsert", f"con_{i}") for i in range(3, 10)]  # con_3..5 again: one page
    assert judge_resume_restarted(before + again, 6, PAGE, {"cursor": "c_1"}, log()) is None


def test_a_resume_that_starts_over_is_named_with_its_checkpoint():
    before = [replica_op("upsert", f"con_{i}") for i in range(6)]
    again = [replica_op("upsert", f"con_{i}") for i in range(10)]
    lists = log(request(9, query={"limit": ["3"]}))
    finding = judge_resume_restarted(before + again, 6, PAGE, {"cursor": "c_1"}, lists)
    assert finding is not None
    assert "the resumed run started over: it stored again 6 of the 6 records" in finding.message
    assert "with 1 list requests starting at GET /contacts?limit=3 -> 200" in finding.message
    assert 'its last checkpoint was {"cursor": "c_1"}' in finding.message
    finding = judge_resume_restarted(before + again, 6, PAGE, None, log())
    assert finding is not None
    assert "it checkpointed nothing before the crash, so the resume was a full sync" in finding.message
    assert "starting at none" in finding.message


def test_deletes_after_the_crash_are_not_counted_as_re_reads():
    before = [replica_op("upsert", f"con_{i}") for i in range(6)]
    deletes = [replica_op("delete", f"con_{i}") for i in range(6)]
    assert judge_resume_restarted(before + deletes, 6, PAGE, None, log()) is None
