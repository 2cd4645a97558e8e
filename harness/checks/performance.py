"""Pacing: the connector uses its rate budget well, judged on its own clock, without hammering the limit."""

from __future__ import annotations

import itertools
import math
import os
import statistics
import time
from dataclasses import dataclass, field

from harness.checks.context import CheckContext
from harness.checks.failures import Finding
from harness.checks.registry import check
from harness.connectors import ConnectorFailed, ConnectorTimeout
from harness.connectors.watches import ThreadWaitWatch
from harness.core import CpuWaits, LoggedRequest, RequestLog

RATE, BURST = 20.0, 20  # the tenant's rate limit: requests per second, and the bucket's size
BUDGET_PAGES = 30  # list pages at the contract's largest page size (more at any smaller one)
BUDGET_WINDOW = 8.0  # seconds the sync gets; pacing through its budget takes about 2 s
MIN_UTILIZATION = 0.70
MAX_RATE_LIMITED_SHARE = 0.05
STALLS_FORGIVEN = 0.10  # the longest tenth of the pauses count as typical ones (load, not the connector)


@check("PERF-01", pillar="performance", severity="medium", level="standard", timeout=60)
def uses_rate_budget(ctx: CheckContext) -> None:
    """Uses its rate budget (at least 70%) without hammering the limit (under 5% of requests 429).

    The tenant is rate limited to 20 requests per second per client, with a burst of 20 (a token
    bucket), and holds about 30 pages at the contract's largest page size, so the sync cannot
    finish inside the burst: it has to pace itself through its budget. It gets 8 s, about four
    times what that takes.

    How it is measured, from the sandbox's request log, on the connector's own clock: the time the
    sandbox spent answering requests (from a request's arrival to its answer) is left out, so only
    the connector's pauses count, between receiving an answer and sending its next request, and a
    slow or busy machine serving pages slowly gives the same verdict as an idle one; nor does the
    time the connector's own processes, or the embedded sandbox's threads serving it, spent ready
    to run but queued for a CPU behind other work (Linux's per-thread schedstat), so an
    oversubscribed machine does not read as a slow connector,
    while a connector that sleeps between pages is still judged by its sleeps. On that clock
    the platform's token bucket is replayed over the connector's API requests (the token endpoint
    has its own budget). Tokens that overflow the full bucket while the connector is active (from
    its first API request until it finishes, or until the 8 s run out) are budget it wasted.
    Utilization = requests accepted / (requests accepted + tokens wasted); it must be at least 70%,
    which a connector that pauses no more than about 70 ms between an answer and its next request
    meets. The longest tenth of its pauses (at least one) count as typical ones: a loaded machine
    now and then leaves a process waiting a second for a core, where a connector that sleeps does
    so before every page. Tokens still unused when the sync finishes do not count against it: a
    sync that is done needs no more. Separately, fewer than 5% of its API requests may be answered
    429: a connector that paces itself (reads the RateLimit headers, spaces its requests) rarely
    sees one, and one that hammers the limit makes the platform throttle every client of the
    account. 429s to requests already in flight together, sent before the first of them was
    answered, count as one: parallel streams meet the limit at once, and how soon they meet it
    depends on how fast the machine serves pages.
    """
    streams = list(ctx.manifest.streams)
    pages = math.ceil(BUDGET_PAGES / len(streams))
    sizes = {stream: ctx.page_size(stream) * pages for stream in streams}
    tenant = ctx.tenant(sizes, purpose="rate-budget", rate_limit=(RATE, BURST))
    connector = ctx.connector(tenant, timeout=BUDGET_WINDOW)
    connector.sample_waits = True
    platform: list[tuple[float, float]] = []
    serving = ctx.platform_threads(tenant)
    watch = ThreadWaitWatch(os.getpid(), serving, platform) if serving else None
    error: ConnectorFailed | ConnectorTimeout | None = None
    try:
        connector.sync(None)
    except (ConnectorFailed, ConnectorTimeout) as exc:
        error = exc
    finally:
        if watch is not None:
            watch.stop()
    ended = time.time()  # a call that ran out of time was ended with its whole process tree
    waits = connector.diagnostics().cpu_waits.plus(CpuWaits.of(platform))
    connector.close()
    api = tenant.requests().api().until(ended)
    ctx.require(judge_paced_run(api, error, streams))
    ctx.require(judge_rate_budget(api, until=ended if error is not None else None, waits=waits))


def judge_paced_run(api: RequestLog, error: BaseException | None, streams: list[str]) -> Finding | None:
    """The sync did not fail under the rate limit, and made API requests to judge."""
    if isinstance(error, ConnectorFailed):
        return Finding.of(
            f"the sync failed under a rate limit of {RATE:g} requests/s (burst {BURST}): {error}",
            expected="a sync that paces itself through its rate budget and finishes",
            requests=api.failed()[-5:],
        )
    if not api:
        return Finding.of(
            "the sync made no API request at all", expected=f"list requests for {', '.join(streams)}"
        )
    return None


def judge_rate_budget(
    api: RequestLog, *, until: float | None, waits: CpuWaits | None = None
) -> Finding | None:
    """Utilization of the rate budget on the connector's own clock, and the share of 429s.

    `until` is when an unfinished sync was stopped (None: it finished); `waits`, when the
    connector's processes waited for a CPU.
    """
    if not api:
        return None
    clock = ConnectorClock(api, waits)
    pauses = connector_pauses(api, clock)
    tail = None if until is None else max(clock(until) - clock(api[-1].time), 0.0)
    budget = _replay_bucket(api, forgive_stalls(pauses), tail)
    limited = api.status(429)
    ignored = unheeded_429s(limited)
    share = len(ignored) / len(api)
    problems = []
    if budget.utilization < MIN_UTILIZATION:
        problems.append(_underused(budget, clock, pauses, finished=until is None))
    if share >= MAX_RATE_LIMITED_SHARE:
        problems.append(_hammered(api, limited, ignored, share))
    if not problems:
        return None
    return Finding.of(
        "; ".join(problems),
        expected=(
            f"at least {MIN_UTILIZATION:.0%} of the rate budget used while syncing, and under "
            f"{MAX_RATE_LIMITED_SHARE:.0%} of requests answered 429"
        ),
        requests=limited or api,
        utilization=round(budget.utilization, 3),
        rate_limited_share=round(share, 3),
        requests_accepted=len(budget.accepted),
        tokens_wasted=round(budget.wasted, 1),
        active_seconds=round(budget.active, 3),
        sandbox_seconds=round(clock.busy, 3),
        cpu_queued_seconds=round(clock.queued(), 3),
        finished=until is None,
    )


def _underused(budget: _Budget, clock: ConnectorClock, pauses: list[float], *, finished: bool) -> str:
    pause = statistics.median(pauses) if pauses else 0.0
    return (
        f"used only {len(budget.accepted)} of the {budget.available:.0f} requests its rate budget "
        f"allowed over {budget.active:.1f} s of its own time ({budget.utilization:.0%}; the limit is "
        f"{RATE:g}/s, burst {BURST}; the {clock.busy:.1f} s the sandbox spent answering and the "
        f"{clock.queued():.1f} s its processes (or the embedded sandbox's threads) waited for a CPU "
        "left out): "
        f"the median pause between an answer and its next request was {pause:.2f} s where the budget "
        f"allows one every {1 / RATE:.2f} s"
        + ("" if finished else f", and the sync was still running when its {BUDGET_WINDOW:g} s were up")
    )


def unheeded_429s(limited: RequestLog) -> list[LoggedRequest]:
    """The 429s the connector could have avoided: each one to a request it sent after the answer
    to the last such 429 had reached it. Requests already in flight together when the platform
    first says 429 (parallel streams meeting the limit at once) count as one, however fast the
    machine brought them to the limit."""
    out: list[LoggedRequest] = []
    known_at = -math.inf  # when the last counted 429 reached the connector
    for entry in sorted(limited, key=lambda e: e.time):
        if entry.time >= known_at:
            out.append(entry)
            known_at = max(entry.time, entry.responded)
    return out


def _hammered(api: RequestLog, limited: RequestLog, ignored: list[LoggedRequest], share: float) -> str:
    first = ignored[0]
    following = api.next_after(first)
    after = ""
    if following is not None:
        after = f"; e.g. {first.line()}, then {following.line()} {following.time - first.time:.3f} s later"
    together = len(limited) - len(ignored)
    aside = f" ({together} more sent together with one of those not counted)" if together else ""
    return (
        f"{len(ignored)} of its {len(api)} API requests ({share:.0%}) were answered 429{aside}: it sends "
        f"faster than its rate limit allows instead of pacing itself{after}"
    )


class ConnectorClock:
    """Sandbox time with the sandbox's own service time and the machine's queueing cut out: the
    connector's own time.

    A request is in the sandbox's hands from its arrival to its answer (`responded`); time when
    any request is in its hands is not the connector's. Under load the sandbox serves a page more
    slowly, and that must not read as the connector pausing. Nor must the time the connector's
    processes spent ready to run but queued for a CPU behind other work (`waits`), outside those
    spans: a sleep is still the connector's.
    """

    def __init__(self, log: RequestLog, waits: CpuWaits | None = None) -> None:
        self._waits = waits or CpuWaits()
        spans: list[list[float]] = []
        for start, end in sorted((e.time, max(e.time, e.responded)) for e in log):
            if spans and start <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                spans.append([start, end])
        self._spans = [(start, end) for start, end in spans]

    @property
    def busy(self) -> float:
        """Seconds the sandbox spent answering, overlaps counted once."""
        return sum(end - start for start, end in self._spans)

    def queued(self, until: float = math.inf) -> float:
        """Seconds the connector waited for a CPU outside the sandbox's spans, before `until`."""
        return self._waits.outside(self._spans, until)

    def __call__(self, moment: float) -> float:
        """The connector's own time at `moment` (sandbox epoch seconds)."""
        busy = sum(min(end, moment) - start for start, end in self._spans if start < moment)
        return moment - busy - self.queued(moment)


@dataclass
class _Budget:
    accepted: list[LoggedRequest] = field(default_factory=list)
    wasted: float = 0.0  # tokens that overflowed a full bucket while the connector was active
    active: float = 0.0  # own seconds from its first API request to its last (or to the window's end)

    @property
    def available(self) -> float:
        return len(self.accepted) + self.wasted

    @property
    def utilization(self) -> float:
        return len(self.accepted) / self.available if self.available else 1.0


def connector_pauses(api: RequestLog, clock: ConnectorClock) -> list[float]:
    """The connector's own time before each request after the first: from the answer to the one
    before (or, with requests in flight together, from the last moment the sandbox was busy)."""
    own = [clock(e.time) for e in api]
    return [b - a for a, b in itertools.pairwise(own)]


def forgive_stalls(pauses: list[float]) -> list[float]:
    """The longest tenth of the pauses (at least one) counted as a median one.

    A loaded machine now and then leaves a process waiting for a core (or a pipe to the harness
    full) for a second; a connector that sleeps does it before every page. Only ever shortens.
    """
    if not pauses:
        return pauses
    typical = statistics.median(pauses)
    count = max(1, int(len(pauses) * STALLS_FORGIVEN))
    longest = set(sorted(range(len(pauses)), key=pauses.__getitem__)[-count:])
    return [min(p, typical) if i in longest else p for i, p in enumerate(pauses)]


def _replay_bucket(api: RequestLog, pauses: list[float], tail: float | None) -> _Budget:
    """Replay the platform's token bucket over the requests, the connector's pauses between them
    (on its own clock), and the `tail` from its last request to the end of an unfinished sync."""
    out = _Budget()
    tokens = float(BURST)
    for entry, pause in zip(api, [0.0, *pauses], strict=True):
        tokens = _refill(out, tokens, pause)
        out.active += pause
        if entry.status != 429:
            out.accepted.append(entry)
            tokens = max(tokens - 1, 0.0)
    if tail is not None:
        _refill(out, tokens, tail)
        out.active += tail
    return out


def _refill(budget: _Budget, tokens: float, seconds: float) -> float:
    tokens += max(seconds, 0.0) * RATE
    if tokens > BURST:
        budget.wasted += tokens - BURST
        tokens = float(BURST)
    return tokens
