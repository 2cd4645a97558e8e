"""Resilience checks: the connector survives the platform misbehaving, without making it worse."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import hypothesis
from hypothesis import strategies as st

from harness.checks.context import CheckContext, Run
from harness.checks.failures import NotApplicable
from harness.checks.registry import check
from harness.connectors import ConnectorTimeout
from harness.contract.collections import find_feed
from harness.core import Fault, LoggedRequest
from harness.core.errors import HarnessError
from harness.runtime import TenantHandle

RETRY_AFTER = 1  # seconds: what the injected 429s ask for
RATE_LIMITED_BURST = 2  # consecutive 429s on one list request
RETRY_AFTER_TOLERANCE = 0.05  # seconds of clock and rounding slack when judging a wait
EXTRA_REQUESTS = 2  # requests beyond the pages and the 429s that RES-01 tolerates
MIN_BACKOFF = 0.05  # seconds: a retry sooner than this after a failure is no backoff at all
LATENCY_MS = 400  # a slow response, well under any sane client timeout
MAX_REFUSED_ATTEMPTS = 2  # requests to an operation refused with a 4xx that retrying cannot fix
REFUSED_CALL_TIMEOUT = 15.0  # seconds a sync may take to give up on a refused operation
HOSTILE_EXAMPLES = 10  # hypothesis examples (edge-profile tenants) per run
HOSTILE_RECORDS = 30  # at most this many records per stream in one example
HOSTILE_CALL_TIMEOUT = 15.0  # seconds one sync of a small edge tenant may take
HOSTILE_SHRINK_BUDGET = 30.0  # seconds hypothesis may spend shrinking a failure


@check("RES-01", pillar="resilience", severity="high", level="standard", timeout=60)
def honours_retry_after(ctx: CheckContext) -> None:
    """Honours 429 Too Many Requests and Retry-After: waits as told, retries, finishes, no storm.

    The platform answers a list request with a burst of 429s carrying `Retry-After: 1`. The
    connector must wait at least that long before its next request (judged from the request
    log: the time of each 429 and of the next API request after it), then carry on and finish
    with a replica equal to the platform's data. The total number of requests must stay bounded:
    the pages it needs, the 429s it was sent, and at most a couple more. Retrying early makes the
    platform throttle harder and can get a customer's account suspended.
    """
    streams = list(ctx.manifest.streams)
    sizes = {stream: ctx.pages(stream, 1.5) for stream in streams}
    tenant = ctx.tenant(sizes, purpose="rate-limited")
    operation = ctx.list_op(streams[0])
    tenant.set_faults([Fault.rate_limited(RETRY_AFTER, operation, after=1, times=RATE_LIMITED_BURST)])
    run = ctx.sync(tenant, check_first=False)
    api = run.requests.api()
    refused = api.status(429)
    if run.error is not None:
        raise ctx.fail(
            (
                f"the sync did not finish after {len(refused)} 429 response(s) with Retry-After: "
                f"{RETRY_AFTER}: {_error_text(run.error)}"
                if refused
                else f"the sync failed before any 429 was sent: {_error_text(run.error)}"
            ),
            expected=f"wait Retry-After ({RETRY_AFTER} s), retry the same request, finish the sync",
            requests=refused or api[-5:],
        )
    if not refused:
        raise ctx.fail(
            f"made no second request to {operation}, so the injected 429s never fired "
            f"({len(api)} API request(s) in all)",
            expected=f"several pages of {streams[0]} ({sizes[streams[0]]} records)",
            requests=api,
        )
    early = []
    for entry in refused:
        following = api.next_after(entry)
        if following is not None and following.time - entry.time < RETRY_AFTER - RETRY_AFTER_TOLERANCE:
            early.append((entry, following, following.time - entry.time))
    if early:
        entry, following, gap = min(early, key=lambda item: item[2])
        raise ctx.fail(
            f"ignored Retry-After: {len(early)} of {len(refused)} request(s) after a 429 came sooner than "
            f"the {RETRY_AFTER} s it asked for, e.g. {following.line()} {gap:.3f} s after a 429 "
            f"with Retry-After: {RETRY_AFTER}",
            expected=f"after a 429, no request until Retry-After ({RETRY_AFTER} s) has passed",
            requests=[r for pair in early for r in pair[:2]],
            gaps=[round(item[2], 3) for item in early],
        )
    needed = len({e.target for e in api if e.status != 429})
    bound = needed + len(refused) + EXTRA_REQUESTS
    if len(api) > bound:
        repeated = Counter(e.target for e in api)
        key, times = repeated.most_common(1)[0]
        example = " ".join(filter(None, key))
        raise ctx.fail(
            f"made {len(api)} API requests where {needed} distinct requests and {len(refused)} 429(s) "
            f"call for at most {bound}: it repeats requests (e.g. {example} {times} times)",
            expected=f"at most {bound} requests: each page once, plus one retry per 429",
            requests=api,
        )
    ctx.require_converged(
        tenant,
        run.replica,
        after=f"after {len(refused)} 429 response(s)",
        expected="the rate-limited page is retried and nothing is lost",
        requests=refused,
    )


@check("RES-02", pillar="resilience", severity="high", level="standard", timeout=90)
def retries_transient_failures(ctx: CheckContext) -> None:
    """Retries 5xx responses, dropped connections, cut-off bodies and slow responses with backoff.

    Spread over the sync, the platform answers list requests with 500, 502 and 503, drops a
    connection halfway through a response, cuts a JSON body in half and delays a response by
    a few hundred milliseconds. The connector must retry each failed request after a backoff
    (never within 50 ms of the failure: instant retries pile onto a platform that is already
    struggling), and finish with a replica equal to the platform's data.
    """
    streams = list(ctx.manifest.streams)
    sizes = {stream: ctx.pages(stream, 1.5) for stream in streams}
    tenant = ctx.tenant(sizes, purpose="transient")
    ops = [ctx.list_op(streams[i % len(streams)]) for i in range(3)]
    tenant.set_faults(
        [
            Fault.error(500, ops[0]),
            Fault.dropped(ops[0], after=2),
            Fault.error(503, ops[1]),
            Fault.truncated(ops[1], after=2),
            Fault.error(502, ops[2]),
            Fault.slow(LATENCY_MS, ops[2], after=1),
        ]
    )
    run = ctx.sync(tenant, check_first=False)
    api = run.requests.api()
    failed = [e for e in api if _failed(e)]
    if run.error is not None:
        last = failed[-1] if failed else None
        raise ctx.fail(
            f"gave up instead of retrying: the sync failed after {len(failed)} transient failure(s)"
            + (f", the last {_what_failed(last)}" if last else "")
            + f": {_error_text(run.error)}",
            expected="retry 5xx, dropped connections and cut-off bodies with backoff, then finish",
            requests=failed or api[-5:],
        )
    if not failed:
        raise ctx.fail(
            f"made too few list requests for the injected failures to fire ({len(api)} API request(s))",
            expected=f"several pages per stream ({', '.join(f'{s}: {n}' for s, n in sizes.items())} records)",
            requests=api,
        )
    hasty = []
    for entry in failed:
        retry = next((e for e in api.after(entry) if e.target == entry.target), None)
        if retry is None:
            continue
        gap = retry.time - (entry.time + entry.latency_ms / 1000)
        if gap < MIN_BACKOFF:
            hasty.append((entry, retry, gap))
    if hasty:
        entry, retry, gap = hasty[0]
        raise ctx.fail(
            f"retried without backoff: {len(hasty)} of {len(failed)} failed request(s) were sent again "
            f"within {MIN_BACKOFF * 1000:.0f} ms, e.g. {_what_failed(entry)}, retried "
            f"{max(gap, 0) * 1000:.0f} ms later",
            expected=f"wait before retrying (backoff with jitter, at least {MIN_BACKOFF * 1000:.0f} ms)",
            requests=[r for pair in hasty for r in pair[:2]],
            gaps_ms=[round(max(item[2], 0) * 1000, 1) for item in hasty],
        )
    ctx.require_converged(
        tenant,
        run.replica,
        after=f"after {len(failed)} transient failure(s)",
        expected="every failed page is retried and nothing is lost",
        requests=failed,
    )


@check("RES-03", pillar="resilience", severity="high", level="standard", timeout=60)
def stops_on_non_retryable_errors(ctx: CheckContext) -> None:
    """Stops with a clear error on a 4xx that retrying cannot fix, instead of looping.

    The connector's client lacks the scope one stream's list operation needs, so the platform
    answers that operation with 403 `insufficient_scope`. No retry can fix that: `sync` must fail
    with an error that says what was refused (not hang, not report success) after at most
    two requests to that operation.
    """
    streams = list(ctx.manifest.streams)
    chosen = _scope_only_one_stream_needs(ctx, streams)
    if chosen is None:
        raise NotApplicable(
            "no stream's list operation needs a scope that the connector's other lists do not"
        )
    stream, scope = chosen
    scopes = [s for s in ctx.manifest.scopes if s != scope]
    tenant = ctx.tenant(purpose="missing-scope", scopes=scopes)
    config = ctx.config(tenant)
    config["scopes"] = scopes
    timeout = min(ctx.call_timeout, REFUSED_CALL_TIMEOUT)
    run = ctx.sync(tenant, config=config, timeout=timeout)
    operation = ctx.list_op(stream)
    calls = run.requests.to(operation)
    refused = [e for e in calls if 400 <= e.status < 500 and e.status not in (401, 429)]
    if not refused:
        raise ctx.fail(
            f"never requested {operation} without the {scope} scope, so there was nothing to refuse "
            f"({len(calls)} request(s) to it; the sync "
            f"{'failed: ' + _error_text(run.error) if run.error else 'passed'})",
            expected=f"the sync reads {stream} and is refused with 403",
            requests=run.requests[-5:],
        )
    first = refused[0]
    statuses = ", ".join(f"{s} x{n}" for s, n in sorted(Counter(e.status for e in calls).items()))
    if len(calls) > MAX_REFUSED_ATTEMPTS:
        spent = calls[-1].time - calls[0].time
        raise ctx.fail(
            f"retried a non-retryable error: sent {len(calls)} requests to {operation} ({statuses}) over "
            f"{spent:.1f} s although the first was refused with {first.line()} insufficient_scope"
            + (f"; it did not stop within {timeout:g} s" if isinstance(run.error, ConnectorTimeout) else ""),
            expected=f"give up after at most {MAX_REFUSED_ATTEMPTS} requests: a 4xx (but 401, 429) is final",
            requests=calls,
            attempts=len(calls),
        )
    if isinstance(run.error, ConnectorTimeout):
        raise ctx.fail(
            f"hung after {first.line()}: sync did not return within {timeout:g} s",
            expected="sync fails promptly with an error naming the refused request",
            requests=refused,
        )
    if run.error is None:
        raise ctx.fail(
            f"sync reported success although {first.line()} (insufficient_scope) means {stream} was "
            f"not synced; a customer would never learn that data is missing",
            expected="sync fails with an error (an exception, or a non-zero exit status) naming the refusal",
            requests=refused,
        )
    text = _error_text(run.error, full=True).lower()
    path = first.path.lower()
    if not any(word in text for word in (str(first.status), "forbidden", "scope", "permission", path)):
        raise ctx.fail(
            f"failed without saying why: its error mentions neither the status ({first.status}), the "
            f"path ({first.path}) nor the missing scope: {_error_text(run.error)}",
            expected=f"an error that names the refusal, e.g. 'GET {first.path} failed with HTTP 403'",
            requests=refused,
        )


@check("RES-04", pillar="resilience", severity="high", level="strict", timeout=150)
def survives_hostile_responses(ctx: CheckContext) -> None:
    """Survives schema-valid but hostile data: extreme unicode, boundary values, nulls, empty pages.

    Hypothesis picks small tenants of the `edge` dataset profile (max-length strings in astral-plane
    and right-to-left scripts, empty arrays, boundary numbers and dates, many nulls), with empty
    streams among them; every response still conforms to the contract. The connector must not
    crash or hang, and its replica must equal the platform's data and conform to the schemas. A
    failure is shrunk by hypothesis to the smallest tenant that still fails, and reported with
    the record that breaks it.
    """
    streams = list(ctx.manifest.streams)
    results: dict[tuple[Any, ...], _Hostile | bool] = {}
    deadline: list[float] = []
    timeout = min(ctx.call_timeout, HOSTILE_CALL_TIMEOUT)

    def attempt(seed: int, sizes: dict[str, int]) -> _Hostile | bool:
        """The failure this example shows; else whether its responses all conformed to the contract."""
        all_sizes = {name: sizes.get(name, 0) for name in ctx.contract.collections}
        tenant = ctx.tenant(all_sizes, seed=seed, profile="edge", keep=False)
        try:
            run = ctx.sync(tenant, check_first=False, timeout=timeout)
            if any(e.response_violations for e in run.requests):
                return False  # the platform broke its own contract: not a fair test of the connector
            return _judge_hostile(ctx, tenant, run, seed, sizes) or True
        finally:
            tenant.delete()

    @hypothesis.seed(ctx.seed_for("hostile"))
    @hypothesis.settings(
        max_examples=HOSTILE_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=False,
        print_blob=False,
        report_multiple_bugs=False,
        phases=[hypothesis.Phase.generate, hypothesis.Phase.shrink],
        suppress_health_check=list(hypothesis.HealthCheck),
        verbosity=hypothesis.Verbosity.quiet,
    )
    @hypothesis.given(
        seed=st.integers(0, 2**32 - 1),
        sizes=st.fixed_dictionaries({s: st.integers(0, HOSTILE_RECORDS) for s in streams}),
    )
    def hostile(seed: int, sizes: dict[str, int]) -> None:
        key = (seed, *sorted(sizes.items()))
        if key not in results:
            if deadline and time.monotonic() > deadline[0]:
                return  # out of shrinking time: the smallest failure found so far is the answer
            results[key] = attempt(seed, sizes)
            if isinstance(results[key], _Hostile) and not deadline:
                deadline.append(time.monotonic() + HOSTILE_SHRINK_BUDGET)
        found = results[key]
        if isinstance(found, _Hostile):
            raise found
        hypothesis.assume(found)

    try:
        hostile()
    except _Hostile as found:
        raise ctx.fail(found.report(), expected=found.expected, **found.details) from None
    except hypothesis.errors.Unsatisfiable:
        raise RuntimeError(
            "RES-04: the sandbox served no edge-profile tenant whose responses all conformed to the "
            "contract, so there was nothing fair to test the connector with (a sandbox defect)"
        ) from None
    except hypothesis.errors.Flaky as exc:
        raise ctx.fail(
            f"failed on hostile data, but not reproducibly when the same tenant was synced again: {exc}",
            expected="the same data gives the same outcome",
        ) from None


# -- RES-04: judging one hostile example -----------------------------------------------------------


class _Hostile(HarnessError):
    """One example that broke the connector: what happened, and the input that did it."""

    def __init__(self, problem: str, expected: str, seed: int, sizes: dict[str, int], **details: Any) -> None:
        super().__init__(problem)
        self.problem, self.expected, self.seed, self.sizes = problem, expected, seed, sizes
        self.details = {"seed": seed, "sizes": sizes, **details}

    def report(self) -> str:
        sizes = ", ".join(f"{s}={n}" for s, n in self.sizes.items())
        culprit = self.details.get("record")
        where = f"; the record: {_short(culprit)}" if culprit is not None else ""
        return (
            f"{self.problem}; minimal failing input (shrunk by hypothesis): an edge-profile tenant with "
            f"seed {self.seed} and {sizes}{where}"
        )


def _judge_hostile(
    ctx: CheckContext, tenant: TenantHandle, run: Run, seed: int, sizes: dict[str, int]
) -> _Hostile | None:
    truth = {s: tenant.records(s) for s in sizes}
    if run.error is not None:
        # the smallest failing tenant ends with the record that breaks the connector: without it,
        # a tenant one record smaller passed (that is what shrinking the sizes converges to)
        last = next(((s, rs[-1]) for s, rs in truth.items() if rs), None)
        verb = "hung" if isinstance(run.error, ConnectorTimeout) else "crashed"
        return _Hostile(
            f"{verb} on a schema-valid page: {_error_text(run.error)}",
            "no crash on any contract-conforming response: nulls, empty arrays, long unicode strings",
            seed,
            sizes,
            stream=last[0] if last else None,
            record=last[1] if last else None,
        )
    for stream, records in truth.items():
        col = ctx.contract.collections[stream]
        expected = {r[col.id_field]: ctx.expected(stream, r) for r in records}
        rows = {i: ctx.expected(stream, r) for i, r in run.replica.rows.get(stream, {}).items()}
        lost = [i for i in expected if i not in rows]
        changed = [i for i in expected if i in rows and rows[i] != expected[i]]
        if lost or changed:
            first = (changed or lost)[0]
            if changed:
                fields = sorted(
                    k
                    for k in {*rows[first], *expected[first]}
                    if rows[first].get(k) != expected[first].get(k)
                )
                what = (
                    f"stored {len(changed)} {stream} record(s) with altered values "
                    f"(e.g. {first}: {', '.join(fields)})"
                )
            else:
                what = f"lost {len(lost)} of {len(records)} {stream} record(s) (e.g. {first})"
            return _Hostile(
                f"{what} from a schema-valid page",
                "every record stored exactly as the platform served it",
                seed,
                sizes,
                stream=stream,
                record=next(r for r in records if r[col.id_field] == first),
                stored=rows.get(first),
            )
        validator = ctx.contract.validator(col.item_schema_uri)
        for record_id, row in rows.items():
            errors = [e for e in validator.iter_errors(row) if not ctx.omitted(stream, e)]
            if errors:
                pointer = "/" + "/".join(str(p) for p in errors[0].absolute_path)
                return _Hostile(
                    f"stored a {stream} record that breaks the schema ({record_id} at {pointer}: "
                    f"{errors[0].message[:160]})",
                    "stored records conform to the collection schema",
                    seed,
                    sizes,
                    stream=stream,
                    record=row,
                )
    return None


def _short(value: Any, limit: int = 500) -> str:
    """A record as JSON with long strings abbreviated, so every field shows in a message."""

    def clip(v: Any) -> Any:
        if isinstance(v, str) and len(v) > 24:
            return f"{v[:12]}…({len(v)} chars)"
        if isinstance(v, dict):
            return {k: clip(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clip(x) for x in v]
        return v

    text = json.dumps(clip(value), ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


# -- shared ----------------------------------------------------------------------------------------


def _failed(entry: LoggedRequest) -> bool:
    """A request that failed in a way worth retrying: 5xx, a dropped connection or a cut-off body."""
    return entry.status >= 500 or entry.faulted("drop", "truncate")


def _what_failed(entry: LoggedRequest) -> str:
    if entry.faulted("drop"):
        return f"{entry.line()} (connection dropped mid-response)"
    if entry.faulted("truncate"):
        return f"{entry.line()} (body cut off)"
    return entry.line()


def _error_text(error: BaseException | None, *, full: bool = False) -> str:
    """The connector's error, with the last line of its traceback or stderr when that says more."""
    if error is None:
        return ""
    text = str(error)
    detail = getattr(error, "traceback_text", "") or ""
    lines = [line.strip() for line in detail.splitlines() if line.strip()]
    if full:
        return f"{text}\n{detail}"
    if lines and lines[-1] not in text:
        text = f"{text} ({lines[-1][:300]})"
    return text


def _scope_only_one_stream_needs(ctx: CheckContext, streams: list[str]) -> tuple[str, str] | None:
    """(stream, scope): a scope the manifest asks for that one stream's list needs and no other one."""
    needs = {s: set(ctx.contract.collections[s].list_op.scopes) for s in streams}
    feed = [op for op in (find_feed(ctx.contract),) if op is not None]
    for stream in reversed(streams):
        others = set().union(*(needs[s] for s in streams if s != stream), *(op.scopes for op in feed))
        own = sorted((needs[stream] - others) & set(ctx.manifest.scopes))
        if own:
            return stream, own[0]
    return None
