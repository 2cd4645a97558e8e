"""How every property-based check runs hypothesis: one settings profile, seeds from the run, a
bounded shrink, and one meaning for each of hypothesis' own outcomes.

A check's example syncs a connector, so it costs seconds, and hypothesis may shrink for five
minutes. Rather than patching hypothesis, each example's outcome is remembered by its key
(`Memo`): an example seen before replays what it did, without running the connector again, and
once the shrink budget (counted from the first failure) is spent, examples never seen pass at
once. Shrinking then stops making progress and ends; the final replay of the smallest failing
example raises the very failure it raised the first time, deterministically.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, TypeVar

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity
from hypothesis.errors import Flaky, Unsatisfiable
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test
from hypothesis.strategies import SearchStrategy

from harness.checks.context import CheckContext
from harness.checks.failures import CheckFailure, Finding
from harness.core.errors import HarnessError

T = TypeVar("T")
W = TypeVar("W")

PROFILE = "connector-harness-checks"
SHRINK_SECONDS = 30.0  # default budget for shrinking, from the first failure on
hypothesis.settings.register_profile(
    PROFILE,
    database=None,  # no .hypothesis folder in the integrator's project; the run's seed reproduces
    deadline=None,  # an example syncs a connector: seconds, not milliseconds
    derandomize=False,  # the seed comes from the run (`--seed`), through hypothesis.seed
    print_blob=False,
    report_multiple_bugs=False,  # one failure per check, reported as soon as it is shrunk
    phases=(Phase.explicit, Phase.generate, Phase.shrink),  # no explain phase: it runs more examples
    suppress_health_check=(
        HealthCheck.too_slow,  # examples do I/O
        HealthCheck.filter_too_much,  # unfair examples (the sandbox broke its contract) are rejected
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,  # schemathesis bodies
    ),
    verbosity=Verbosity.normal,  # quiet would leave the failing example out of the exception's notes
)


def check_settings(**overrides: Any) -> hypothesis.settings:
    """The checks' profile with a check's own numbers (max_examples, stateful_step_count)."""
    return hypothesis.settings(hypothesis.settings.get_profile(PROFILE), **overrides)


class NoFairExample(HarnessError):
    """Hypothesis found no example the check could fairly judge the connector by (a harness or
    sandbox problem, not the connector's)."""


def not_reproducible(what: str, error: BaseException) -> Finding:
    """A failure that did not happen again when hypothesis replayed the same example."""
    return Finding.of(
        f"{what}, but not reproducibly when the same example ran again: {error}",
        expected="the same input gives the same outcome",
    )


# -- remembering outcomes ---------------------------------------------------------------------


@dataclass
class Outcome:
    """What one example did: its return value, or the exception it raised (and where)."""

    value: Any = None
    error: BaseException | None = None
    traceback: TracebackType | None = None

    def replay(self) -> Any:
        if self.error is not None:
            raise self.error.with_traceback(self.traceback)
        return self.value


@dataclass
class Memo:
    """Each example's outcome by key, and the shrink budget that starts at the first failure."""

    shrink_seconds: float = SHRINK_SECONDS
    clock: Callable[[], float] = time.monotonic
    outcomes: dict[Hashable, Outcome] = field(default_factory=dict)
    deadline: float | None = None
    runs: int = 0  # examples actually run (not replayed)
    examples: int = 0  # examples hypothesis has tried (explicit ones included), counted by the runners
    first_failure: int | None = None  # which of them failed first: what the detection bench averages

    def seen(self, key: Hashable) -> bool:
        return key in self.outcomes

    def expired(self) -> bool:
        """True once the budget for shrinking is spent: unseen examples then pass at once."""
        return self.deadline is not None and self.clock() > self.deadline

    def call(self, key: Hashable, action: Callable[[], T]) -> T:
        """`action()` the first time a key is seen; its recorded outcome every time after."""
        if key in self.outcomes:
            return self.outcomes[key].replay()
        self.runs += 1
        try:
            value = action()
        except hypothesis.errors.HypothesisException:
            raise  # hypothesis' own control flow (e.g. a rejected example inside it): never recorded
        except Exception as exc:
            self.outcomes[key] = Outcome(error=exc, traceback=exc.__traceback__)
            if self.deadline is None:
                self.deadline = self.clock() + self.shrink_seconds
                self.first_failure = self.examples
            raise
        self.outcomes[key] = Outcome(value=value)
        return value


class Program(Generic[W]):
    """One state-machine example run through a Memo: a step's key is the program up to it.

    A step whose program was seen before replays its outcome and runs nothing; the first unseen
    step brings a world up (`start`) and runs every step so far on it, so a program is only paid
    for from where it differs from all programs before it. After the shrink budget, the first
    unseen step ends the example as passed.
    """

    def __init__(self, memo: Memo, start: Callable[[], W], stop: Callable[[W], None]) -> None:
        self.memo, self._start, self._stop = memo, start, stop
        memo.examples += 1  # one Program per state-machine example
        self.keys: tuple[Hashable, ...] = ()
        self._actions: list[Callable[[W], object]] = []
        self.world: W | None = None
        self._done = 0  # how many of the actions have run on `world`
        self.skipped = False

    def step(self, key: Hashable, action: Callable[[W], object]) -> None:
        if self.skipped:
            return
        self.keys = (*self.keys, key)
        self._actions.append(action)
        if self.memo.seen(self.keys):
            self.memo.outcomes[self.keys].replay()  # raises the recorded failure, if there was one
        elif self.memo.expired():
            self.skipped = True  # out of shrinking time: the rest of this program passes
        else:
            self.memo.call(self.keys, self._catch_up)

    def _catch_up(self) -> None:
        if self.world is None:
            self.world, self._done = self._start(), 0
        while self._done < len(self._actions):
            action = self._actions[self._done]
            self._done += 1
            action(self.world)

    def close(self) -> None:
        if self.world is not None:
            world, self.world = self.world, None
            self._stop(world)


# -- running ----------------------------------------------------------------------------------


def given_test(
    prop: Callable[[T], bool | None],
    strategy: SearchStrategy[T],
    *,
    seed: int,
    config: hypothesis.settings,
    memo: Memo,
    key: Callable[[T], Hashable] = repr,
    explicit: Sequence[T] = (),
) -> Callable[[], None]:
    """A hypothesis test of `prop` over `strategy`: `prop` raises to fail, returns False to reject
    the example as unfair (hypothesis.assume), else passes. Explicit examples run first, in order."""

    def run_example(drawn: T) -> None:
        memo.examples += 1
        name = key(drawn)
        if not memo.seen(name) and memo.expired():
            return  # out of shrinking time: passes at once, so shrinking ends
        hypothesis.assume(memo.call(name, lambda: prop(drawn)) is not False)

    test: Any = hypothesis.given(drawn=strategy)(run_example)
    for value in reversed(explicit):  # hypothesis runs explicit examples in reverse order of attachment
        test = hypothesis.example(drawn=value)(test)
    test = config(test)
    return hypothesis.seed(seed)(test)


def machine_test(
    machine: type[RuleBasedStateMachine], *, seed: int, config: hypothesis.settings
) -> Callable[[], None]:
    """A state machine as a test; `stateful_step_count` in `config` is how many steps it generates."""
    seeded = hypothesis.seed(seed)(machine)
    return lambda: run_state_machine_as_test(seeded, settings=config)


def run_property(
    ctx: CheckContext, test: Callable[[], None], *, flaky: str, unfair: str = "", memo: Memo | None = None
) -> None:
    """Run a property test for a check: its own failure (a CheckFailure) goes through with the
    number of the example that first failed in its evidence (how a budget is sized), a failure
    hypothesis could not replay becomes the check's failure, and finding no fair example to test
    with is a harness error naming the check."""
    try:
        test()
    except CheckFailure as failure:
        if memo is not None and memo.first_failure is not None:
            failure.evidence.details["first_failing_example"] = memo.first_failure
        raise
    except Flaky as exc:  # FlakyFailure (an exception group) and FlakyStrategyDefinition alike
        ctx.require(not_reproducible(flaky, exc))
    except Unsatisfiable:
        why = unfair or "hypothesis found no example to test the connector with"
        raise NoFairExample(f"{ctx.check_id}: {why}") from None
