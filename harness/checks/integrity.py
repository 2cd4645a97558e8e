"""Integrity checks: what the connector stores is exactly what the platform holds."""

from __future__ import annotations

from harness.checks.context import CheckContext
from harness.checks.registry import check

PAGES = 3.5  # enough records for several pages at the contract's largest page size


@check("INT-01", pillar="integrity", severity="critical", timeout=180)
def full_sync_equals_ground_truth(ctx: CheckContext) -> None:
    """A full sync brings in every record exactly once, across many pages, with every field intact.

    The tenant holds several pages of each stream. After `sync(None)` the replica must equal the
    platform's data: no record lost (stopping before the last page, skipping a page), none
    written twice (re-reading a page), and field values unchanged.
    """
    sizes = {stream: _multi_page(ctx, stream) for stream in ctx.manifest.streams}
    tenant = ctx.tenant(sizes)
    run = ctx.sync(tenant)
    if run.error is not None:
        raise ctx.fail(
            f"the full sync did not complete: {run.error}",
            expected="sync(None) returns normally",
            requests=[e for e in run.requests if e["status"] >= 400][-5:],
        )
    problems = []
    for stream in ctx.manifest.streams:
        col = ctx.contract.collections[stream]
        truth = {r[col.id_field]: r for r in tenant.records(stream)}
        rows = run.replica.rows.get(stream, {})
        lost = [i for i in truth if i not in rows]
        extra = [i for i in rows if i not in truth]
        doubled = {i: n for i, n in run.replica.upserts(stream).items() if n > 1}
        changed = [i for i in truth if i in rows and rows[i] != truth[i]]
        if lost:
            problems.append(f"{stream}: lost {len(lost)} of {len(truth)} records (e.g. {lost[0]})")
        if extra:
            problems.append(
                f"{stream}: stored {len(extra)} records the platform does not have (e.g. {extra[0]})"
            )
        if doubled:
            first = next(iter(doubled))
            problems.append(
                f"{stream}: wrote {len(doubled)} records more than once (e.g. {first} {doubled[first]} times)"
            )
        if changed:
            first = changed[0]
            fields = sorted(k for k in truth[first] if rows[first].get(k) != truth[first][k])
            problems.append(
                f"{stream}: {len(changed)} records differ from the platform's "
                f"(e.g. {first}: {', '.join(fields) or 'extra fields'})"
            )
    if problems:
        lists = [e for e in run.requests if e.get("operation") in _list_ops(ctx)]
        raise ctx.fail(
            "; ".join(problems),
            expected="the replica equals the platform's records: each once, all fields equal",
            requests=lists,
            sizes=sizes,
        )


def _multi_page(ctx: CheckContext, stream: str) -> int:
    pagination = ctx.contract.collections[stream].pagination
    return int((pagination.max_limit or pagination.default_limit or 100) * PAGES)


def _list_ops(ctx: CheckContext) -> set[str]:
    return {c.list_op.operation_id for c in ctx.contract.collections.values()}
