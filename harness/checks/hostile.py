"""RES-04: hypothesis searches edge-profile tenants for data that breaks the connector."""

from __future__ import annotations

import json
import time
from typing import Any

import hypothesis
from hypothesis import strategies as st

from harness.checks.context import CheckContext, Run
from harness.checks.registry import check
from harness.checks.resilience import error_text
from harness.connectors import ConnectorTimeout
from harness.core.errors import HarnessError
from harness.runtime import TenantHandle

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
            f"{verb} on a schema-valid page: {error_text(run.error)}",
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
