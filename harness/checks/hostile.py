"""RES-04: hypothesis searches edge-profile tenants for data that breaks the connector."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from harness.checks.context import CheckContext, RunError
from harness.checks.diff import differing, shown
from harness.checks.failures import Finding
from harness.checks.properties import Memo, check_settings, given_test, run_property
from harness.checks.registry import check
from harness.checks.resilience import error_text
from harness.connectors import ConnectorTimeout

HOSTILE_EXAMPLES = 10  # hypothesis examples (edge-profile tenants) per run
HOSTILE_RECORDS = 30  # at most this many records per stream in one example
HOSTILE_CALL_TIMEOUT = 15.0  # seconds one sync of a small edge tenant may take
HOSTILE_SHRINK_BUDGET = 30.0  # seconds hypothesis may spend shrinking a failure


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
    timeout = min(ctx.call_timeout, HOSTILE_CALL_TIMEOUT)

    def attempt(drawn: tuple[int, dict[str, int]]) -> bool:
        """Whether this example was fair (its responses all conformed); raises when it broke the connector."""
        seed, sizes = drawn
        all_sizes = {name: sizes.get(name, 0) for name in ctx.contract.collections}
        tenant = ctx.tenant(all_sizes, seed=seed, profile="edge", keep=False)
        try:
            run = ctx.sync(tenant, check_first=False, timeout=timeout)
            if any(e.response_violations for e in run.requests):
                return False  # the platform broke its own contract: not a fair test of the connector
            truth = {s: tenant.records(s) for s in sizes}
        finally:
            ctx.release(tenant)
        ids = {s: ctx.contract.collections[s].id_field for s in sizes}
        ctx.require(
            judge_hostile(
                run.error,
                truth,
                run.replica.rows,
                ids,
                _schema_errors(ctx, run.replica.rows, sizes),
                expected=ctx.compared,
                seed=seed,
                sizes=sizes,
            )
        )
        return True

    memo = Memo(HOSTILE_SHRINK_BUDGET)
    test = hostile_test(attempt, streams, ctx.seed_for("hostile"), memo)
    run_property(
        ctx,
        test,
        flaky="failed on hostile data",
        memo=memo,
        unfair="the sandbox served no edge-profile tenant whose responses all conformed to the contract, "
        "so there was nothing fair to test the connector with (a sandbox defect)",
    )


def hostile_test(
    attempt: Callable[[tuple[int, dict[str, int]]], bool | None], streams: list[str], seed: int, memo: Memo
) -> Callable[[], None]:
    """RES-04's hypothesis test: (data seed, records per stream) examples. Apart from the check,
    so `bench/detection.py` can draw the very examples a run draws without syncing anything."""
    drawn = st.tuples(
        st.integers(0, 2**32 - 1),
        st.fixed_dictionaries({s: st.integers(0, HOSTILE_RECORDS) for s in streams}),
    )
    return given_test(
        attempt,
        drawn,
        seed=seed,
        config=check_settings(max_examples=HOSTILE_EXAMPLES),
        memo=memo,
        key=lambda d: (d[0], *sorted(d[1].items())),
    )


# -- RES-04: judging one hostile example -----------------------------------------------------------


@dataclass(frozen=True)
class SchemaError:
    """The first way a stored row breaks its collection's schema."""

    record_id: Any
    row: dict[str, Any]
    pointer: str
    message: str


Expected = Callable[[str, dict[str, Any]], dict[str, Any]]


def judge_hostile(
    error: RunError | None,
    truth: Mapping[str, list[dict[str, Any]]],
    rows: Mapping[str, Mapping[Any, dict[str, Any]]],
    id_fields: Mapping[str, str],
    schema_errors: Mapping[str, SchemaError],
    *,
    seed: int,
    sizes: dict[str, int],
    expected: Expected = lambda stream, record: record,
) -> Finding | None:
    """No crash or hang, every record stored as served, every stored row valid. `truth` is the
    platform's records per stream in order; `expected` cuts a record to what the replica keeps."""
    if error is not None:
        # the smallest failing tenant ends with the record that breaks the connector: without it,
        # a tenant one record smaller passed (that is what shrinking the sizes converges to)
        last = next(((s, rs[-1]) for s, rs in truth.items() if rs), None)
        verb = "hung" if isinstance(error, ConnectorTimeout) else "crashed"
        return _finding(
            f"{verb} on a schema-valid page: {error_text(error)}",
            "no crash on any contract-conforming response: nulls, empty arrays, long unicode strings",
            seed,
            sizes,
            stream=last[0] if last else None,
            record=last[1] if last else None,
        )
    for stream, records in truth.items():
        want = {r[id_fields[stream]]: expected(stream, r) for r in records}
        stored = {i: expected(stream, r) for i, r in rows.get(stream, {}).items()}
        lost = [i for i in want if i not in stored]
        changed = [i for i in want if i in stored and stored[i] != want[i]]
        if lost or changed:
            first = (changed or lost)[0]
            if changed:
                fields = differing(want[first], stored[first])
                what = (
                    f"stored {len(changed)} {stream} record(s) with altered values "
                    f"(e.g. {shown(first)}: {', '.join(fields)})"
                )
            else:
                what = f"lost {len(lost)} of {len(records)} {stream} record(s) (e.g. {shown(first)})"
            return _finding(
                f"{what} from a schema-valid page",
                "every record stored exactly as the platform served it",
                seed,
                sizes,
                stream=stream,
                record=next(r for r in records if r[id_fields[stream]] == first),
                stored=stored.get(first),
            )
        bad = schema_errors.get(stream)
        if bad is not None:
            return _finding(
                f"stored a {stream} record that breaks the schema ({bad.record_id} at {bad.pointer}: "
                f"{bad.message[:160]})",
                "stored records conform to the collection schema",
                seed,
                sizes,
                stream=stream,
                record=bad.row,
            )
    return None


def _finding(problem: str, expected: str, seed: int, sizes: dict[str, int], **details: Any) -> Finding:
    """The problem, with the minimal failing input and the record that breaks the connector."""
    shown = ", ".join(f"{s}={n}" for s, n in sizes.items())
    culprit = details.get("record")
    where = f"; the record: {_short(culprit)}" if culprit is not None else ""
    return Finding.of(
        f"{problem}; minimal failing input (shrunk by hypothesis): an edge-profile tenant with "
        f"seed {seed} and {shown}{where}",
        expected=expected,
        seed=seed,
        sizes=sizes,
        **details,
    )


def _schema_errors(
    ctx: CheckContext, rows: Mapping[str, Mapping[Any, dict[str, Any]]], streams: Iterable[str]
) -> dict[str, SchemaError]:
    """Per stream, the first stored row that breaks its schema (ignoring fields left out on purpose)."""
    out = {}
    for stream in streams:
        validator = ctx.contract.for_answers.validator(ctx.contract.collections[stream].item_schema_uri)
        for record_id, row in rows.get(stream, {}).items():
            errors = [e for e in validator.iter_errors(row) if not ctx.omitted(stream, e)]
            if errors:
                pointer = "/" + "/".join(str(p) for p in errors[0].absolute_path)
                out[stream] = SchemaError(record_id, row, pointer, errors[0].message)
                break
    return out


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
