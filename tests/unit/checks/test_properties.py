"""The property runner, on cheap fake properties: seeding, replay, the shrink bound, outcomes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from harness.checks.context import CheckContext
from harness.checks.failures import CheckFailure, Finding
from harness.checks.properties import (
    Memo,
    NoFairExample,
    Program,
    check_settings,
    given_test,
    machine_test,
    run_property,
)


def context() -> CheckContext:
    return CheckContext(check_id="T-01", sandbox=None, contract=None, manifest=None, seed=7)  # type: ignore[arg-type]


class Tick:
    """A clock that moves one second per reading: the shrink budget in examples, not in time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def drawn_values(seed: int) -> list[int]:
    seen: list[int] = []

    def prop(x: int) -> None:
        seen.append(x)

    given_test(prop, st.integers(0, 10**9), seed=seed, config=check_settings(max_examples=8), memo=Memo())()
    return seen


def test_the_same_seed_draws_the_same_examples_and_another_seed_others() -> None:
    assert drawn_values(11) == drawn_values(11)
    assert drawn_values(11) != drawn_values(12)


def test_a_failing_property_is_shrunk_and_its_recorded_failure_replayed() -> None:
    memo = Memo(shrink_seconds=1000)
    calls: dict[int, int] = {}

    def prop(x: int) -> None:
        calls[x] = calls.get(x, 0) + 1
        if x >= 10:
            raise AssertionError(f"too big: {x}")

    test = given_test(prop, st.integers(0, 10**6), seed=3, config=check_settings(max_examples=50), memo=memo)
    with pytest.raises(AssertionError) as caught:
        test()
    assert str(caught.value) == "too big: 10"
    assert caught.value is memo.outcomes[repr(10)].error  # the final replay raised the recorded failure
    assert calls[10] == 1  # replayed, never run again
    assert all(n == 1 for n in calls.values())


def test_shrinking_stops_when_the_budget_is_spent_and_reports_a_failure_it_saw() -> None:
    memo = Memo(shrink_seconds=3, clock=Tick())
    failed: list[int] = []

    def prop(x: int) -> None:
        if x >= 10:
            failed.append(x)
            raise AssertionError(f"too big: {x}")

    test = given_test(prop, st.integers(0, 10**6), seed=3, config=check_settings(max_examples=50), memo=memo)
    with pytest.raises(AssertionError) as caught:
        test()
    runs_when_it_first_failed = next(i for i, o in enumerate(memo.outcomes.values(), 1) if o.error)
    assert memo.runs <= runs_when_it_first_failed + 3  # a clock reading per example: 3 seconds, 3 runs
    assert caught.value in [o.error for o in memo.outcomes.values()]
    assert str(caught.value) == f"too big: {min(failed)}"


def test_an_unfair_example_is_rejected_and_none_fair_is_a_harness_error() -> None:
    test = given_test(
        lambda x: False, st.integers(), seed=1, config=check_settings(max_examples=5), memo=Memo()
    )
    with pytest.raises(NoFairExample, match="T-01: the sandbox served nothing fair"):
        run_property(context(), test, flaky="failed", unfair="the sandbox served nothing fair")


def test_a_failure_that_does_not_replay_is_the_checks_failure() -> None:
    runs: list[int] = []

    def prop(x: int) -> None:
        runs.append(x)
        if len(runs) == 1:
            raise AssertionError("only once")

    unique = iter(range(10**6))
    test = given_test(
        prop,
        st.integers(),
        seed=1,
        config=check_settings(max_examples=5),
        memo=Memo(),
        key=lambda x: next(unique),
    )
    with pytest.raises(
        CheckFailure, match=r"^\[T-01\] it broke, but not reproducibly when the same example ran"
    ):
        run_property(context(), test, flaky="it broke")


def test_explicit_examples_run_first_in_their_order() -> None:
    seen: list[int] = []
    test = given_test(
        lambda x: seen.append(x),  # type: ignore[func-returns-value]
        st.integers(100, 200),
        seed=1,
        config=check_settings(max_examples=3),
        memo=Memo(),
        explicit=[1, 2, 3],
    )
    test()
    assert seen[:3] == [1, 2, 3]


# -- state machines through Program ----------------------------------------------------------------


class Counter:
    started = 0

    def __init__(self) -> None:
        Counter.started += 1
        self.total = 0


def counting_machine(memo: Memo, limit: int) -> type[RuleBasedStateMachine]:
    class Counting(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.program: Program[Counter] = Program(memo, Counter, lambda world: None)

        @initialize()
        def start(self) -> None:
            self.program.step("start", lambda world: None)

        @rule(n=st.integers(0, 10))
        def add(self, n: int) -> None:
            def action(world: Counter) -> None:
                world.total += n

            self.program.step(("add", n), action)

        @invariant()
        def small(self) -> None:
            def action(world: Counter) -> None:
                if world.total > limit:
                    raise AssertionError(f"total {world.total} > {limit}")

            self.program.step("small", action)

        def teardown(self) -> None:
            self.program.close()

    return Counting


def test_a_machine_failure_is_shrunk_and_replayed_with_its_program_in_the_notes() -> None:
    memo = Memo(shrink_seconds=1000)
    machine = counting_machine(memo, limit=12)
    test = machine_test(machine, seed=5, config=check_settings(max_examples=30, stateful_step_count=8))
    with pytest.raises(AssertionError, match=r"total 1[3-9] > 12") as caught:
        test()
    assert caught.value in [o.error for o in memo.outcomes.values()]
    notes = getattr(caught.value, "__notes__", [])
    assert any(line.startswith("state.add(") for line in notes)


def test_a_machine_replays_seen_programs_without_starting_its_world() -> None:
    Counter.started = 0
    memo = Memo(shrink_seconds=1000)
    program: Program[Counter] = Program(memo, Counter, lambda world: None)
    program.step(("add", 1), lambda world: None)
    program.step(("add", 2), lambda world: None)
    program.close()
    again: Program[Counter] = Program(memo, Counter, lambda world: None)
    again.step(("add", 1), lambda world: None)
    again.step(("add", 2), lambda world: None)
    assert Counter.started == 1 and again.world is None
    again.step(("add", 3), lambda world: None)  # unseen from here: the world catches up
    assert Counter.started == 2 and again.world is not None


def test_after_the_budget_an_unseen_step_ends_the_program_as_passed() -> None:
    memo = Memo(shrink_seconds=0, clock=Tick())
    program: Program[Any] = Program(memo, Counter, lambda world: None)
    with pytest.raises(AssertionError):
        program.step("boom", lambda world: (_ for _ in ()).throw(AssertionError("boom")))
    later: Program[Any] = Program(memo, Counter, lambda world: None)
    later.step("other", lambda world: (_ for _ in ()).throw(AssertionError("never run")))
    assert later.skipped and later.world is None
    with pytest.raises(AssertionError, match="boom"):
        Program(memo, Counter, lambda world: None).step("boom", lambda world: None)


def test_the_example_that_failed_first_is_in_the_failures_evidence() -> None:
    ctx = context()

    def prop(x: int) -> None:
        ctx.require(Finding.of("too big") if x >= 3 else None)

    test = given_test(
        prop,
        st.integers(100, 200),
        seed=1,
        config=check_settings(max_examples=9),
        memo=(memo := Memo()),
        explicit=[1, 2, 3, 4],
    )
    with pytest.raises(CheckFailure) as failure:
        run_property(ctx, test, flaky="it broke", memo=memo)
    assert failure.value.evidence.details["first_failing_example"] == 3  # the third explicit one
