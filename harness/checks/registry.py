"""The catalogue: checks are plain functions registered under a stable id.

An id is a promise to integrators and CI pipelines (`--checks AUTH-01`, waivers, reports), so
registering the same id twice is an error, never a silent override.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.checks.failures import NotApplicable
from harness.contract.offers import OFFERS, gap

if TYPE_CHECKING:
    from harness.checks.context import CheckContext
    from harness.contract import Contract

PILLARS = (
    "auth",
    "contract",
    "integrity",
    "resilience",
    "webhooks",
    "secrets",
    "data",
    "observability",
    "change",
    "performance",
)
SEVERITIES = ("critical", "high", "medium", "low")
LEVELS = ("basic", "standard", "strict")
# Pillars whose judgement is about the connector's own pace or resources: their checks run alone.
EXCLUSIVE_PILLARS = ("performance",)

CheckFunc = Callable[["CheckContext"], None]


@dataclass(frozen=True)
class Check:
    id: str
    pillar: str
    severity: str
    level: str
    timeout: float
    func: CheckFunc
    # Runs with no other check beside it: its verdict reads the connector's pace, CPU or memory,
    # which checks running alongside would take a share of. The others run concurrently.
    exclusive: bool = False
    # Offers of the contract (harness.contract.offers) the check needs; without one it is not
    # applicable, with the contract's gap as the reason, and never run.
    requires: tuple[str, ...] = ()
    # Runs after every other check of the run, alone: its verdict reads what the others saw
    # (SEC-01 judges the connector output of every check, harness.checks.exposures).
    last: bool = False
    # Judges what the connector sent (its requests' conformance, where its credentials go, what it
    # leaked): a refused request is this check's own finding, never blocked by another's root cause.
    judges_requests: bool = False

    @property
    def title(self) -> str:
        return self.description.splitlines()[0] if self.description else self.id

    @property
    def description(self) -> str:
        """The docstring: the check's text in the report, written for integrators."""
        return inspect.getdoc(self.func) or ""


class Registry:
    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}

    def register(self, check: Check) -> None:
        if check.id in self._checks:
            raise ValueError(
                f"check id {check.id} is registered twice "
                f"({self._checks[check.id].func.__qualname__} and {check.func.__qualname__})"
            )
        self._checks[check.id] = check

    def __getitem__(self, check_id: str) -> Check:
        return self._checks[check_id]

    def __contains__(self, check_id: object) -> bool:
        return check_id in self._checks

    def all(self) -> list[Check]:
        return sorted(self._checks.values(), key=lambda c: (PILLARS.index(c.pillar), c.id))

    def select(self, names: list[str] | None = None, level: str = "strict") -> list[Check]:
        """Checks by id or pillar (all when `names` is empty), up to a certification level."""
        wanted = set(names or [])
        allowed = LEVELS[: LEVELS.index(level) + 1]
        chosen = [
            c
            for c in self.all()
            if c.level in allowed and (not wanted or c.id in wanted or c.pillar in wanted)
        ]
        return [c for c in chosen if not c.last] + [c for c in chosen if c.last]


REGISTRY = Registry()


def not_offered(check: Check, contract: Contract) -> None:
    """Raise NotApplicable, with the contract's gap as the reason, if it lacks an offer the check requires."""
    for name in check.requires:
        missing = gap(contract, name)
        if missing is not None:
            raise NotApplicable(str(missing))


def check(
    check_id: str,
    *,
    pillar: str,
    severity: str = "critical",
    level: str = "basic",
    timeout: float = 120.0,
    exclusive: bool | None = None,
    requires: tuple[str, ...] = (),
    last: bool = False,
    judges_requests: bool = False,
    registry: Registry = REGISTRY,
) -> Callable[[CheckFunc], CheckFunc]:
    """Register a check function. Its docstring's first line is its title in the report.
    `exclusive` (default: True in the performance pillar) makes it run with no other check beside it.
    `requires` names the contract offers it needs (see harness.contract.offers); `last` runs it
    after every other check; `judges_requests` marks a check whose finding is about the requests
    themselves, never reported as blocked by a root cause (harness.checks.root_causes)."""
    unknown = [name for name in requires if name not in OFFERS]
    if unknown:
        raise ValueError(f"{check_id}: unknown offer(s) {unknown}; use some of {sorted(OFFERS)}")
    if pillar not in PILLARS:
        raise ValueError(f"{check_id}: unknown pillar {pillar!r}; use one of {PILLARS}")
    if severity not in SEVERITIES:
        raise ValueError(f"{check_id}: unknown severity {severity!r}; use one of {SEVERITIES}")
    if level not in LEVELS:
        raise ValueError(f"{check_id}: unknown level {level!r}; use one of {LEVELS}")

    def register(func: CheckFunc) -> CheckFunc:
        if not inspect.getdoc(func):
            raise ValueError(f"{check_id}: a check needs a docstring; it is the check's text in the report")
        alone = pillar in EXCLUSIVE_PILLARS if exclusive is None else exclusive
        registry.register(
            Check(
                check_id,
                pillar,
                severity,
                level,
                timeout,
                func,
                alone or last,
                tuple(requires),
                last,
                judges_requests,
            )
        )
        return func

    return register
