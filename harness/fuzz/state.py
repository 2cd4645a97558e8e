"""Target `state`: platform changes and incremental syncs interleaved by a hypothesis state machine.

After a full sync, the machine's rules create, update and delete records on the platform and
run incremental syncs from the connector's last checkpoint, in any order and often on the
record changed last (created then updated, updated then deleted). After every sync the replica
must equal the platform. The steps are plain data (`{"op": "update", "pick": 0, "donor": 7}`),
executed by `Program`, so the shortest failing sequence hypothesis finds is the finding's input
and replays without hypothesis.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from hypothesis import target
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from harness.core.changes import ChangeEvent
from harness.fuzz.oracles import Problem, judge_run, secrets_of
from harness.fuzz.target import Example, Judge, Limits, Outcome, requests_outcome
from harness.fuzz.world import World

RECORDS = 4  # per stream: small, cheap to sync again and again
STEPS = 12  # steps per program, at most (INT-05 takes 6)


class Program:
    """A tenant and a replica that steps are applied to, judged after every sync."""

    def __init__(self, world: World, seed: int, limits: Limits) -> None:
        self.world, self.limits = world, limits
        self.tenant = world.tenant(seed, {s: RECORDS for s in world.manifest.streams})
        self.replica = world.replica()
        self.steps: list[dict[str, Any]] = []
        self.log: list[str] = []  # the steps as they happened: which record, which field
        self.seen = 0  # request-log entries already counted
        self.pending = True  # platform changes since the last sync (the first: all of it)
        # one connector for the whole program, as in production: its process outlives a sync
        self.driver = world.connector(self.tenant, self.replica)

    def apply(self, step: dict[str, Any]) -> Outcome | None:
        """Apply one step; a sync returns its outcome (problems included). A sync with no change
        since the last one is left out: it has nothing to bring in."""
        op = step["op"]
        if op in ("full sync", "sync"):
            if not self.pending:
                return None
            self.steps.append(step)
            self.log.append(_step(step))
            self.pending = False
            return self._sync(self.replica.state if op == "sync" else None, first=op == "full sync")
        self.steps.append(step)
        self.pending = True
        cols = self.world.contract.collections
        if op == "create":
            record = self.tenant.create(step["stream"])
            self.log.append(f"create {step['stream']} {record[cols[step['stream']].id_field]}")
            return None
        live = self._live()
        candidates = _recent_first(live, self.tenant.changes())
        if not candidates:
            return None
        stream, record_id = candidates[step["pick"] % len(candidates)]
        if op == "delete":
            self.tenant.remove(stream, record_id)
            self.log.append(f"delete {stream} {record_id}")
            return None
        target = live[(stream, record_id)]
        donors = [r for (s, _), r in live.items() if s == stream]
        donor = donors[step["donor"] % len(donors)]
        fixed = self.world.fixed_fields(stream)
        fields = {k: v for k, v in donor.items() if k not in fixed and target.get(k) != v}
        name = next(iter(sorted(fields)), None)
        if name is not None:
            self.tenant.update(stream, record_id, {name: fields[name]})
            self.log.append(f"update {stream} {record_id} ({name})")
        return None

    def _live(self) -> dict[tuple[str, Any], dict[str, Any]]:
        cols = self.world.contract.collections
        streams = self.world.manifest.streams
        return {(s, r[cols[s].id_field]): r for s in streams for r in self.tenant.records(s)}

    def _sync(self, state: Any, first: bool) -> Outcome:
        run = self.world.sync(self.tenant, self.replica, state, driver=self.driver, check_first=first)
        requests = self.tenant.requests(self.seen)
        self.seen = max([self.seen, *(e.seq for e in requests)])
        outcome = requests_outcome(requests)
        outcome.problems = judge_run(
            self.world,
            run,
            after=f"after {'; '.join(self.log)}",
            memory_mib=self.limits.memory_mib,
            secrets=secrets_of(self.world, self.tenant),
            requests=requests,
        )
        return outcome

    def close(self) -> None:
        self.driver.close()
        with contextlib.suppress(Exception):
            self.tenant.delete()


def _recent_first(
    live: dict[tuple[str, Any], dict[str, Any]], changes: list[ChangeEvent]
) -> list[tuple[str, Any]]:
    """Every live record, the most recently changed first (so small picks touch it again)."""
    recent: list[tuple[str, Any]] = []
    for change in reversed(changes):
        key = (change.collection, change.id)
        if key in live and key not in recent:
            recent.append(key)
    return recent + [k for k in live if k not in recent]


def run_program(world: World, example: Example, limits: Limits) -> Outcome:
    """Replay a saved program: the first sync that shows a problem ends it."""
    program = Program(world, example["seed"], limits)
    total = Outcome()
    try:
        for step in example["steps"]:
            outcome = program.apply(step)
            if outcome is not None:
                total.operations |= outcome.operations
                if outcome.problems:
                    total.problems = outcome.problems
                    return total
        return total
    finally:
        program.close()


def _program(steps: list[dict[str, Any]]) -> str:
    return "; ".join(_step(s) for s in steps)


def _step(step: dict[str, Any]) -> str:
    op = step["op"]
    if op == "create":
        return f"create {step['stream']}"
    if op == "update":
        return f"update record #{step['pick']} (from #{step['donor']})"
    if op == "delete":
        return f"delete record #{step['pick']}"
    return "incremental sync" if op == "sync" else op


class State:
    name = "state"
    description = "changes and incremental syncs interleaved by a state machine; the replica converges"

    def strategy(self, world: World) -> st.SearchStrategy[Example]:  # replay-only: see run_chunk
        raise NotImplementedError

    def execute(self, world: World, example: Example, limits: Limits) -> Outcome:
        return run_program(world, example, limits)

    def describe(self, example: Example) -> str:
        return (
            f"a tenant (seed {example['seed']}, {RECORDS} records per stream): {_program(example['steps'])}"
        )

    def run_chunk(
        self, world: World, settings: Any, judge: Judge, limits: Limits, seed: int, skip: Callable[[], bool]
    ) -> None:
        """One batch of state machine runs; `judge` raises on a new finding."""
        machine = _machine(world, judge, limits, seed, skip)
        run_state_machine_as_test(machine, settings=settings)


def _machine(
    world: World, judge: Judge, limits: Limits, seed: int, skip: Callable[[], bool]
) -> type[RuleBasedStateMachine]:
    streams = list(world.manifest.streams)
    picks = st.one_of(st.just(0), st.integers(0, 3 * RECORDS))

    class Interleavings(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.skipped = skip()  # out of budget: every step is a no-op
            self.program = None if self.skipped else Program(world, seed, limits)
            self.pending = False
            self.requests = 0.0  # targeted once, at the end: syncs that make many requests

        def _do(self, step: dict[str, Any]) -> None:
            if self.program is None:
                return
            if step["op"] == "sync" and not self.program.pending:
                return
            outcome = self.program.apply(step)
            if outcome is not None:
                self.pending = False
                self.requests += outcome.scores.pop("requests", 0.0)
                outcome.scores.clear()
                judge({"seed": seed, "steps": list(self.program.steps)}, outcome)
            else:
                self.pending = True

        @initialize()
        def full_sync(self) -> None:
            self._do({"op": "full sync"})

        @rule(stream=st.sampled_from(streams))
        def create(self, stream: str) -> None:
            self._do({"op": "create", "stream": stream})

        @rule(pick=picks, donor=st.integers(0, 99))
        def update(self, pick: int, donor: int) -> None:
            self._do({"op": "update", "pick": pick, "donor": donor})

        @rule(pick=picks)
        def delete(self, pick: int) -> None:
            self._do({"op": "delete", "pick": pick})

        @rule()
        def sync(self) -> None:
            self._do({"op": "sync"})

        def teardown(self) -> None:
            try:
                if self.pending and self.program is not None:
                    self._do({"op": "sync"})  # the last changes are synced too
                if self.program is not None:
                    target(self.requests, label="requests")
            finally:
                if self.program is not None:
                    self.program.close()

    return Interleavings


__all__ = ["STEPS", "Problem", "Program", "State", "run_program"]
