"""INT-05's judgements, from hand-built evidence: syncs that fail, replicas that diverge."""

from __future__ import annotations

from typing import Any

from harness.checks.context import StreamDiff
from harness.checks.stateful import (
    FIXED,
    SHRUNK,
    fixed_program,
    hypothesis_program,
    judge_convergence,
    judge_sync,
)
from harness.connectors import ConnectorFailed, ConnectorTimeout

STEPS = ["full sync", "create contacts con_1", "update contacts con_1 (email)", "incremental sync"]


def test_a_completed_sync_passes() -> None:
    assert judge_sync(None, STEPS) is None


def test_a_sync_that_raised_fails_with_the_failing_sequence() -> None:
    finding = judge_sync(ConnectorFailed("sync(state)", KeyError("cursor")), STEPS)
    assert finding is not None
    assert finding.message.startswith("an incremental sync did not complete: sync(state) raised KeyError")
    assert finding.message.endswith(
        " — failing sequence, shrunk by hypothesis: full sync; create contacts con_1; "
        "update contacts con_1 (email); incremental sync"
    )
    assert finding.expected == "sync(state) returns normally"


def test_a_sync_that_hung_fails_too() -> None:
    finding = judge_sync(ConnectorTimeout("sync(state)", 15.0), STEPS)
    assert finding is not None and "did not complete" in finding.message


def test_a_converged_replica_passes() -> None:
    assert judge_convergence([], {}, STEPS) is None


def test_a_record_updated_after_its_creation_but_stored_stale_fails() -> None:
    diff = StreamDiff("contacts", truth=5, stale=["con_1"], fields={"con_1": ["email", "updated_at"]})
    finding = judge_convergence([diff], {"contacts": {"con_1": "created"}}, STEPS)
    assert finding is not None
    assert finding.message.startswith(
        "contacts: 1 record updated before the sync still holds old or wrong values "
        "(e.g. con_1: email, updated_at)"
    )
    assert "failing sequence, shrunk by hypothesis: full sync; create contacts con_1" in finding.message
    assert finding.expected == "after every sync the replica equals the platform"


def test_a_deleted_record_kept_and_a_created_one_missed_are_named() -> None:
    diff = StreamDiff("contacts", truth=4, lost=["con_9"], extra=["con_2"])
    finding = judge_convergence([diff], {"contacts": {"con_9": "created", "con_2": "deleted"}}, STEPS)
    assert finding is not None
    assert "contacts: missed 1 record created before the sync (e.g. con_9)" in finding.message
    assert "contacts: kept 1 record deleted before the sync (e.g. con_2)" in finding.message


def test_the_program_hypothesis_printed_leaves_out_invariants_and_teardown() -> None:
    notes = [
        "Falsifying example:",
        "state = ReplicaConverges()",
        "state.full_sync()",
        "state.converges()",
        "state.create(stream='contacts')",
        "state.incremental_sync()",
        "state.teardown()",
    ]
    assert (
        hypothesis_program(notes)
        == "state.full_sync(); state.create(stream='contacts'); state.incremental_sync()"
    )


def test_a_failure_of_the_fixed_program_says_its_sequence_was_not_shrunk() -> None:
    diff = StreamDiff("contacts", truth=4, extra=["con_2"])
    finding = judge_convergence([diff], {"contacts": {"con_2": "deleted"}}, STEPS, FIXED)
    assert finding is not None
    assert "— failing sequence, a fixed program run before the random ones: full sync;" in finding.message
    assert "shrunk" not in finding.message


def test_the_fixed_program_changes_one_record_twice_in_each_window_then_syncs_and_judges() -> None:
    calls: list[str] = []

    class Recording:
        how = SHRUNK

        def __getattr__(self, name: str) -> Any:
            return lambda **kwargs: calls.append(
                f"{name}({', '.join(f'{k}={v}' for k, v in kwargs.items())})"
            )

    fixed_program(Recording, "contacts")  # type: ignore[arg-type]
    assert calls == [
        "full_sync()",
        "converges()",
        "create(stream=contacts)",
        "update(pick=0, donor=1)",
        "incremental_sync()",
        "converges()",
        "update(pick=1, donor=2)",
        "update(pick=0, donor=3)",
        "incremental_sync()",
        "converges()",
        "update(pick=2, donor=4)",
        "delete(pick=0)",
        "incremental_sync()",
        "converges()",
        "create(stream=contacts)",
        "delete(pick=0)",
        "incremental_sync()",
        "converges()",
        "teardown()",
    ]
