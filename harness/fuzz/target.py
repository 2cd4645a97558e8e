"""What every fuzz target is: a hypothesis strategy of JSON inputs and a run of one input.

An input is plain JSON (seeds, sizes, planted fields, fault rules, steps, a body), so the
minimal failing input hypothesis shrinks to is written into the finding as is, and replaying a
finding is `execute(world, input)` again, without hypothesis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from hypothesis import strategies as st

from harness.core.requests import RequestLog
from harness.fuzz.oracles import Problem
from harness.fuzz.world import World

Example = dict[str, Any]


@dataclass(frozen=True)
class Limits:
    memory_mib: int


@dataclass
class Outcome:
    problems: list[Problem] = field(default_factory=list)
    operations: set[str] = field(default_factory=set)  # contract operations the example reached
    fault_kinds: set[str] = field(default_factory=set)  # fault kinds that fired
    scores: dict[str, float] = field(default_factory=dict)  # for hypothesis.target: what to push up
    fair: bool = True  # False: the sandbox broke its own contract, the example proves nothing


Judge = Callable[[Example, Outcome], None]


class Target(Protocol):
    name: str
    description: str

    def strategy(self, world: World) -> st.SearchStrategy[Example]: ...

    def execute(self, world: World, example: Example, limits: Limits) -> Outcome: ...

    def describe(self, example: Example) -> str:
        """The input in one line, for the finding and the report."""
        ...


def requests_outcome(requests: RequestLog) -> Outcome:
    """Coverage and fairness from a tenant's request log."""
    outcome = Outcome()
    for entry in requests:
        if entry.operation:
            outcome.operations.add(entry.operation)
        outcome.fault_kinds.update(str(f).partition(":")[0] for f in entry.faults)
        if entry.response_violations:
            outcome.fair = False
    outcome.scores["requests"] = float(len(requests))
    return outcome
