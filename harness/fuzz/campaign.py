"""The campaign: hypothesis runs each target in batches until the budget is spent.

Each batch is one hypothesis run with its own seed (derived from the campaign's seed and the
batch number, so a seed reproduces the campaign and a resumed one explores new inputs) and the
campaign's example database, so failures and the best targeted examples (`hypothesis.target`:
requests made, faults fired, peak memory) carry over between batches and into `--resume`.
Targets share the time evenly. A batch stops at its first new finding, which hypothesis shrinks
(for at most `shrink_seconds`) before the batch raises it; a finding already filed is counted
and let pass, so later batches look for other defects.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

import hypothesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import Flaky, Unsatisfiable

from harness.core.errors import HarnessError
from harness.fuzz.canaries import Canaries
from harness.fuzz.faults import KINDS as FAULT_KINDS
from harness.fuzz.faults import Faults
from harness.fuzz.findings import CampaignDir, Finding
from harness.fuzz.oracles import Problem
from harness.fuzz.responses import Responses
from harness.fuzz.soak import Soak
from harness.fuzz.state import STEPS, State
from harness.fuzz.target import Example, Limits, Outcome, Target
from harness.fuzz.webhooks import Webhooks
from harness.fuzz.world import World

TARGETS: dict[str, Target] = {
    t.name: t for t in (Responses(), Faults(), State(), Webhooks(), Canaries(), Soak())
}
DEFAULT_SHRINK_SECONDS = 20.0
MAX_BATCH = 50
MIN_BATCH = 5  # a batch's first input is hypothesis's simplest one: each batch must do more than that
CACHE = 10_000  # outcomes kept by input, so an input drawn again (or replayed to report) runs once


class _Found(HarnessError):
    """A new finding, raised inside hypothesis so that it shrinks the input that shows it."""

    def __init__(self, problem: Problem, example: Example) -> None:
        super().__init__(problem.message)
        self.problem, self.example = problem, example


_FOUND_TYPES: dict[str, type[_Found]] = {}


def _found_type(key: str) -> type[_Found]:
    """One exception class per finding key: hypothesis tells bugs apart by exception type and
    place, so shrinking never slips from one defect to another."""
    return _FOUND_TYPES.setdefault(key, type("Found", (_Found,), {}))


@dataclass
class TargetStats:
    examples: int = 0
    seconds: float = 0.0
    batches: int = 0
    unfair: int = 0
    operations: set[str] = field(default_factory=set)
    fault_kinds: set[str] = field(default_factory=set)
    first_finding_after: float | None = None  # when its first finding was filed (shrunk)
    first_failure_after: float | None = None  # when its first failing example ran (before shrinking)

    def rate(self) -> float:
        return self.examples / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "examples": self.examples,
            "seconds": round(self.seconds, 2),
            "batches": self.batches,
            "unfair": self.unfair,
            "examples_per_second": round(self.rate(), 2),
            "operations": sorted(self.operations),
            "fault_kinds": sorted(self.fault_kinds),
            "first_finding_after": self.first_finding_after,
            "first_failure_after": self.first_failure_after,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetStats:
        return cls(
            examples=int(data.get("examples", 0)),
            seconds=float(data.get("seconds", 0.0)),
            batches=int(data.get("batches", 0)),
            unfair=int(data.get("unfair", 0)),
            operations=set(data.get("operations", ())),
            fault_kinds=set(data.get("fault_kinds", ())),
            first_finding_after=data.get("first_finding_after"),
            first_failure_after=data.get("first_failure_after"),
        )


@dataclass
class Campaign:
    world: World
    directory: CampaignDir
    targets: list[str]
    budget: float  # seconds
    seed: int
    limits: Limits
    connector: str
    contract: str | None
    shrink_seconds: float = DEFAULT_SHRINK_SECONDS
    max_findings: int = 0  # stop once this run has filed this many new findings (0: spend the budget)
    out: TextIO | None = None  # where the progress line goes (None: nowhere)
    stats: dict[str, TargetStats] = field(default_factory=dict)
    findings: dict[str, Finding] = field(default_factory=dict)
    elapsed_before: float = 0.0  # seconds spent by earlier runs of a resumed campaign
    _outcomes: dict[str, dict[str, Outcome]] = field(default_factory=dict)
    _deadline: float = 0.0
    _started: float = 0.0
    _last_progress: float = 0.0

    def __post_init__(self) -> None:
        for name in self.targets:
            self.stats.setdefault(name, TargetStats())
        for finding in self.directory.findings():
            self.findings[finding.key] = finding

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> None:
        self.directory.create()
        self._started = time.monotonic()
        self.world.operations()  # learned before the clock matters to any target
        # The budget starts once the connector's operations are known, and a run makes at least
        # one batch: how far a campaign gets never hinges on how busy the machine was at start.
        self._deadline = time.monotonic() + self.budget
        active = [name for name in self.targets if self._applies(name)]
        known = len(self.findings)
        ran = False
        try:
            while active and (not ran or time.monotonic() < self._deadline):
                ran = True
                name = min(active, key=lambda t: (self.stats[t].seconds, self.targets.index(t)))
                self._batch(name)
                self.save()
                if self.max_findings and len(self.findings) - known >= self.max_findings:
                    self._say(f"stopping: {self.max_findings} new finding(s) filed (--max-findings)")
                    break
        finally:
            self.save()
            self._progress(force=True, end=True)

    def _applies(self, name: str) -> bool:
        """A target with nothing to draw (no webhooks, no declared fields) is left out, said once:
        it would otherwise take every batch, never having spent any time."""
        target = TARGETS[name]
        if isinstance(target, State) or not target.strategy(self.world).is_empty:
            return True
        self._say(f"{name}: left out, this connector gives it nothing to draw")
        return False

    @property
    def elapsed(self) -> float:
        return self.elapsed_before + (time.monotonic() - self._started if self._started else 0.0)

    def _batch(self, name: str) -> None:
        target, stats = TARGETS[name], self.stats[name]
        remaining = max(self._deadline - time.monotonic(), 0.0)
        share = remaining / max(len(self.targets), 1)
        size = max(MIN_BATCH, min(MAX_BATCH, int(stats.rate() * min(share, 15.0))))
        batch_seed = _derive(self.seed, name, stats.batches)
        stats.batches += 1
        found: list[_Found] = []
        cache = self._outcomes.setdefault(name, {})
        if len(cache) > CACHE:
            cache.clear()

        def out_of_time() -> bool:
            return not found and time.monotonic() > self._deadline

        def judge(example: Example, outcome: Outcome) -> None:
            if not outcome.fair:
                hypothesis.reject()
            for label, score in outcome.scores.items():
                hypothesis.target(score, label=label)
            for problem in outcome.problems:
                if problem.key in self.findings:
                    self.findings[problem.key].seen += 1
                    continue
                error = _found_type(problem.key)(problem, example)
                found.append(error)
                raise error

        def counted(example: Example, outcome: Outcome, seconds: float, programs: int = 1) -> None:
            stats.examples += programs
            stats.seconds += seconds
            stats.operations |= outcome.operations
            stats.fault_kinds |= outcome.fault_kinds
            stats.unfair += 0 if outcome.fair else 1
            if outcome.problems and stats.first_failure_after is None:
                stats.first_failure_after = round(self.elapsed, 2)
            for problem in outcome.problems:
                self.directory.record_failure(name, problem.key, example)
            self._progress()

        config = settings(
            max_examples=size,
            database=DirectoryBasedExampleDatabase(str(self.directory.database_dir)),
            deadline=None,
            derandomize=False,
            report_multiple_bugs=False,
            print_blob=False,
            phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
            suppress_health_check=list(HealthCheck),
            verbosity=hypothesis.Verbosity.quiet,
            stateful_step_count=STEPS,
        )
        started = time.monotonic()
        try:
            with _shrink_limit(self.shrink_seconds):
                if isinstance(target, State):

                    def timed_judge(example: Example, outcome: Outcome) -> None:
                        # a program is counted once, at its first sync (its time when the batch ends)
                        counted(example, outcome, 0.0, programs=int(len(example["steps"]) == 1))
                        judge(example, outcome)

                    tenant_seed = batch_seed % 2**31
                    target.run_chunk(self.world, config, timed_judge, self.limits, tenant_seed, out_of_time)
                else:
                    explicit = _explicit(target, self.world) if stats.batches == 1 else []
                    self._given(target, config, batch_seed, cache, out_of_time, judge, counted, explicit)()
        except _Found as error:
            self._file(name, error, flaky=False)
        except Flaky as error:
            inner = _first_found(error)
            if inner is not None:
                self._file(name, inner, flaky=True)
        except Unsatisfiable:
            pass  # every input of the batch was unfair or out of time: nothing learned
        finally:
            if isinstance(target, State):
                stats.seconds += time.monotonic() - started

    def _given(
        self,
        target: Target,
        config: settings,
        batch_seed: int,
        cache: dict[str, Outcome],
        out_of_time: Callable[[], bool],
        judge: Callable[[Example, Outcome], None],
        counted: Callable[[Example, Outcome, float], None],
        explicit: list[Example] | None = None,
    ) -> Callable[[], None]:
        strategy = target.strategy(self.world)

        @hypothesis.seed(batch_seed)
        @config
        @hypothesis.given(example=strategy)
        def fuzz(example: Example) -> None:
            key = json.dumps(example, sort_keys=True, default=str)
            if key not in cache:
                if out_of_time():
                    return
                began = time.monotonic()
                cache[key] = target.execute(self.world, example, self.limits)
                counted(example, cache[key], time.monotonic() - began)
            judge(example, cache[key])

        # one database entry per target (the test function is the same for all of them)
        fuzz.hypothesis.inner_test._hypothesis_internal_add_digest = target.name.encode()  # type: ignore[attr-defined]
        for example in reversed(explicit or []):  # hypothesis runs them in reverse order of attachment
            fuzz = hypothesis.example(example=example)(fuzz)
        return fuzz

    def _file(self, name: str, error: _Found, *, flaky: bool) -> None:
        target, problem = TARGETS[name], error.problem
        finding = Finding(
            key=problem.key,
            oracle=problem.oracle,
            target=name,
            message=problem.message,
            input=error.example,
            described=target.describe(error.example),
            connector=self.connector,
            contract=self.contract,
            found_after=round(self.elapsed, 2),
            examples_before=sum(s.examples for s in self.stats.values()),
            flaky=flaky,
        )
        self.findings[finding.key] = finding
        path = self.directory.save(finding)
        if self.stats[name].first_finding_after is None:
            self.stats[name].first_finding_after = finding.found_after
        self._say(f"finding {finding.id} ({name}): {finding.message}\n  input: {finding.described}")
        self._say(f"  replay: {finding.replay_command(path)}")

    # -- state, progress ------------------------------------------------------------------------

    def save(self) -> None:
        self.directory.save_state(self.state())

    def state(self) -> dict[str, Any]:
        return {
            "connector": self.connector,
            "contract": self.contract,
            "seed": self.seed,
            "targets": self.targets,
            "elapsed": round(self.elapsed, 2),
            "memory_mib": self.limits.memory_mib,
            "call_timeout": self.world.call_timeout,
            "stats": {name: s.to_dict() for name, s in self.stats.items()},
        }

    def coverage(self) -> dict[str, Any]:
        known = set(self.world.operations()) | ({"webhook"} if "webhooks" in self.targets else set())
        reached = set().union(*(s.operations for s in self.stats.values())) if self.stats else set()
        kinds = set().union(*(s.fault_kinds for s in self.stats.values())) if self.stats else set()
        return {
            "operations": sorted(reached),
            "operations_known": sorted(known),
            "fault_kinds": sorted(kinds),
            "fault_kinds_known": list(FAULT_KINDS),
        }

    def progress_line(self) -> str:
        cov = self.coverage()
        parts = [
            f"{name} {s.examples} ({s.rate():.1f}/s)"
            for name, s in self.stats.items()
            if name in self.targets
        ]
        reached = len(set(cov["operations"]) & set(cov["operations_known"]))
        kinds = len(cov["fault_kinds"])
        return (
            f"fuzz {_clock(self.elapsed)}: " + ", ".join(parts) + f" | operations {reached}/"
            f"{len(cov['operations_known'])}, fault kinds {kinds}/{len(FAULT_KINDS)} | "
            f"findings {len(self.findings)}"
        )

    def _progress(self, *, force: bool = False, end: bool = False) -> None:
        if self.out is None:
            return
        now = time.monotonic()
        tty = getattr(self.out, "isatty", lambda: False)()
        if not force and now - self._last_progress < (0.5 if tty else 10.0):
            return
        self._last_progress = now
        line = self.progress_line()
        if tty:
            self.out.write("\r\033[K" + line + ("\n" if end else ""))
        else:
            self.out.write(line + "\n")
        self.out.flush()

    def _say(self, text: str) -> None:
        if self.out is not None:
            if getattr(self.out, "isatty", lambda: False)():
                self.out.write("\r\033[K")
            self.out.write(text + "\n")
            self.out.flush()


def replay(world: World, finding: Finding, limits: Limits) -> Outcome:
    """Run a finding's minimal input again, without hypothesis."""
    return TARGETS[finding.target].execute(world, finding.input, limits)


def _explicit(target: Target, world: World) -> list[Example]:
    """A target's deterministic edge cases (schemathesis's coverage phase for the webhook
    endpoint), run once, before the campaign's first batch of that target draws at random."""
    explicit = getattr(target, "explicit", None)
    return list(explicit(world)) if callable(explicit) else []


def _derive(seed: int, name: str, batch: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{name}:{batch}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _first_found(error: BaseException) -> _Found | None:
    if isinstance(error, _Found):
        return error
    for inner in getattr(error, "exceptions", ()):
        found = _first_found(inner)
        if found is not None:
            return found
    cause = error.__cause__ or error.__context__
    return _first_found(cause) if cause is not None else None


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


@contextlib.contextmanager
def _shrink_limit(seconds: float) -> Iterator[None]:
    """Bound hypothesis's shrinking (five minutes by default; an example here runs a connector)."""
    from hypothesis.internal.conjecture import engine

    default = getattr(engine, "MAX_SHRINKING_SECONDS", None)
    if default is None:
        yield
        return
    engine.MAX_SHRINKING_SECONDS = int(max(seconds, 1))
    try:
        yield
    finally:
        engine.MAX_SHRINKING_SECONDS = default


__all__ = ["TARGETS", "Campaign", "TargetStats", "replay"]
