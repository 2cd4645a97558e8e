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
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from harness.fuzz.oracles import Problem, judge_run, secrets_of
from harness.fuzz.target import Example, Judge, Limits, Outcome, requests_outcome
from harness.fuzz.world import World

RECORDS = 4  # per stream: small, cheap to sync again and again
STEPS = 20  # steps per program (INT-05 takes 6)


class Program:
    """A tenant and a replica that steps are applied to, judged after every sync."""

    def __init__(self, world: World, seed: int, limits: Limits) -> None:
        self.world, self.limits = world, limits
        self.tenant = world.tenant(seed, {s: RECORDS for s in world.manifest.streams})
        self.replica = world.replica()
        self.steps: list[dict[str, Any]] = []
        self.seen = 0  # request-log entries already counted

    def apply(self, step: dict[str, Any]) -> Outcome | None:
        """Apply one step; a sync returns its outcome (problems included)."""
        self.steps.append(step)
        op = step["op"]
        if op in ("full sync", "sync"):
            return self._sync(self.replica.state if op == "sync" else None)
        cols = self.world.contract.collections
        if op == "create":
            self.tenant.create(step["stream"])
            return None
        candidates = self._candidates()
        if not candidates:
            return None
        stream, target = candidates[step["pick"] % len(candidates)]
        record_id = target[cols[stream].id_field]
        if op == "delete":
            self.tenant.remove(stream, record_id)
            return None
        donors = self.tenant.records(stream)
        donor = donors[step["donor"] % len(donors)]
        fixed = self.world.fixed_fields(stream)
        fields = {k: v for k, v in donor.items() if k not in fixed and target.get(k) != v}
        name = next(iter(sorted(fields)), None)
        if name is not None:
            self.tenant.update(stream, record_id, {name: fields[name]})
        return None

    def _candidates(self) -> list[tuple[str, dict[str, Any]]]:
        """Every live record, the most recently changed first (so small picks touch it again)."""
        cols = self.world.contract.collections
        live = {
            (s, r[cols[s].id_field]): r for s in self.world.manifest.streams for r in self.tenant.records(s)
        }
        recent: list[tuple[str, Any]] = []
        for change in reversed(self.tenant.changes()):
            key = (change["collection"], change["id"])
            if key in live and key not in recent:
                recent.append(key)
        return [(key[0], live[key]) for key in recent + [k for k in live if k not in recent]]

    def _sync(self, state: Any) -> Outcome:
        run = self.world.sync(self.tenant, self.replica, state)
        requests = self.tenant.requests(self.seen)
        self.seen = max([self.seen, *(e["seq"] for e in requests)])
        outcome = requests_outcome(requests)
        outcome.problems = judge_run(
            self.world,
            run,
            after=f"after {_program(self.steps)}",
            memory_mib=self.limits.memory_mib,
            secrets=secrets_of(self.world, self.tenant),
        )
        return outcome

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.tenant.delete()


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

        def _do(self, step: dict[str, Any]) -> None:
            if self.program is None:
                return
            outcome = self.program.apply(step)
            if outcome is not None:
                self.pending = False
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
            finally:
                if self.program is not None:
                    self.program.close()

    return Interleavings


__all__ = ["STEPS", "Problem", "Program", "State", "run_program"]
