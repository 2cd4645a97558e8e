"""INT-05: a hypothesis state machine interleaves platform changes and incremental syncs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import hypothesis
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from harness.checks.context import CheckContext
from harness.checks.failures import CheckFailure
from harness.checks.integrity import changed_ids, describe_diffs, full_sync, run_sync
from harness.checks.registry import check
from harness.core.changes import CREATED_NAMES

STATEFUL_EXAMPLES = 5
STATEFUL_STEPS = 6
STATEFUL_RECORDS = 4  # per stream: a small tenant, cheap to sync again and again
STATEFUL_SHRINK_SECONDS = 8  # then the shortest failing sequence found so far is reported


@check("INT-05", pillar="integrity", severity="high", level="strict", timeout=120)
def replica_converges_under_interleaved_changes(ctx: CheckContext) -> None:
    """Stateful property test: however changes and incremental syncs interleave, the replica converges.

    Hypothesis drives a state machine: after a full sync, its steps create, update and delete
    records on the platform and run incremental syncs from the connector's last checkpoint, in
    any order — often changing the same record twice between two syncs (created then updated,
    updated then deleted). After every sync the replica must equal the platform. A failure is
    shrunk to the shortest sequence of steps that still breaks it, shown in the message.
    """
    streams = list(ctx.manifest.streams)
    machine = hypothesis.seed(ctx.seed_for("stateful"))(_converges_machine(ctx, streams))
    config = hypothesis.settings(
        max_examples=STATEFUL_EXAMPLES,
        stateful_step_count=STATEFUL_STEPS,
        deadline=None,
        database=None,
        print_blob=False,
        suppress_health_check=list(hypothesis.HealthCheck),
        verbosity=hypothesis.Verbosity.normal,  # quiet would leave the failing program out of the notes
    )
    try:
        with _shrink_time_limit(STATEFUL_SHRINK_SECONDS):
            run_state_machine_as_test(machine, settings=config, _min_steps=STATEFUL_STEPS)
    except CheckFailure as failure:
        program = _program(failure)
        failure.evidence.details["hypothesis_program"] = program
        raise
    except hypothesis.errors.Flaky as exc:
        raise ctx.fail(
            f"the replica diverged, but not reproducibly when the same steps ran again: {exc}",
            expected="the same changes and syncs give the same replica",
        ) from None


@contextlib.contextmanager
def _shrink_time_limit(seconds: int) -> Iterator[None]:
    """Bound hypothesis' shrinking (five minutes by default; each step here syncs a connector)."""
    from hypothesis.internal.conjecture import engine

    default = getattr(engine, "MAX_SHRINKING_SECONDS", None)
    if default is None:
        yield
        return
    engine.MAX_SHRINKING_SECONDS = seconds
    try:
        yield
    finally:
        engine.MAX_SHRINKING_SECONDS = default


def _program(failure: BaseException) -> str:
    """The program hypothesis printed for the shrunk example, one step per `;`."""
    lines = [line.strip() for line in getattr(failure, "__notes__", [])]
    return "; ".join(line for line in lines if line.startswith("state.") and line != "state.teardown()")


def _converges_machine(ctx: CheckContext, streams: list[str]) -> type[RuleBasedStateMachine]:
    cols = {s: ctx.contract.collections[s] for s in streams}
    keep = {s: {c.id_field, c.updated_field, *CREATED_NAMES} for s, c in cols.items()}
    # which record a step changes: 0 is the one changed last, so a record is often changed twice
    picks = st.one_of(st.just(0), st.integers(0, 3 * STATEFUL_RECORDS))

    class ReplicaConverges(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            # the same seed every example: the same starting data, so shrinking replays exactly
            self.tenant = ctx.tenant({s: STATEFUL_RECORDS for s in streams}, purpose="stateful")
            self.replica = ctx.replica()
            self.steps: list[str] = []
            self.pending = False  # changes made since the last sync
            self.broken = False  # a step raised: teardown must not hide that behind another sync

        def _candidates(self) -> list[tuple[str, dict[str, Any]]]:
            """Every live record, the most recently changed first (so small picks touch them again)."""
            live = {(s, r[cols[s].id_field]): r for s in streams for r in self.tenant.records(s)}
            recent = []
            for change in reversed(self.tenant.changes()):
                key = change.key
                if key in live and key not in recent:
                    recent.append(key)
            rest = [key for key in live if key not in recent]
            return [(key[0], live[key]) for key in recent + rest]

        @initialize()
        def full_sync(self) -> None:
            self.steps.append("full sync")
            self.broken = True
            full_sync(ctx, self.tenant, self.replica)
            self.broken = False

        @rule(stream=st.sampled_from(streams))
        def create(self, stream: str) -> None:
            self.broken = True
            record = self.tenant.create(stream)
            self.steps.append(f"create {stream} {record[cols[stream].id_field]}")
            self.broken, self.pending = False, True

        @rule(pick=picks, donor=st.integers(0, 99))
        def update(self, pick: int, donor: int) -> None:
            self.broken = True
            candidates = self._candidates()
            if not candidates:
                self.broken = False
                return
            stream, target = candidates[pick % len(candidates)]
            donors = self.tenant.records(stream)
            source = donors[donor % len(donors)]
            fields = {k: v for k, v in source.items() if k not in keep[stream] and target.get(k) != v}
            name = next(iter(fields), None)
            if name is not None:
                record_id = target[cols[stream].id_field]
                self.tenant.update(stream, record_id, {name: fields[name]})
                self.steps.append(f"update {stream} {record_id} ({name})")
                self.pending = True
            self.broken = False

        @rule(pick=picks)
        def delete(self, pick: int) -> None:
            self.broken = True
            candidates = self._candidates()
            if candidates:
                stream, target = candidates[pick % len(candidates)]
                self.tenant.remove(stream, target[cols[stream].id_field])
                self.steps.append(f"delete {stream} {target[cols[stream].id_field]}")
                self.pending = True
            self.broken = False

        @rule()
        def incremental_sync(self) -> None:
            if self.pending:  # a sync with nothing new to bring in is left out of the report
                self.steps.append("incremental sync")
            self.broken = True
            error = run_sync(ctx, self.tenant, self.replica, self.replica.state)
            if error is not None:
                raise ctx.fail(
                    f"an incremental sync did not complete: {error} — failing sequence, shrunk by "
                    f"hypothesis: {'; '.join(self.steps)}",
                    expected="sync(state) returns normally",
                )
            diffs = ctx.diff(self.tenant, self.replica)
            if diffs:
                raise ctx.fail(
                    describe_diffs(diffs, changed_ids(self.tenant), "before the sync")
                    + f" — failing sequence, shrunk by hypothesis: {'; '.join(self.steps)}",
                    expected="after every sync the replica equals the platform",
                )
            self.broken = self.pending = False

        def teardown(self) -> None:
            try:
                if self.pending and not self.broken:  # the last changes are synced too
                    self.incremental_sync()
            finally:
                with contextlib.suppress(Exception):
                    self.tenant.delete()
                    ctx.tenants.remove(self.tenant)

    return ReplicaConverges
