"""Contract checks: the connector speaks the platform's API as the contract defines it (CON-01,
CON-02; the push checks, CON-03, are in pushes.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from harness.checks.context import CheckContext, RunError
from harness.checks.failures import Finding
from harness.checks.registry import check
from harness.connectors import Replica
from harness.core import LoggedRequest, RequestLog, RequestViolation
from harness.runtime import TenantHandle

# Where the credential went is AUTH-01's finding; CON-01 does not report the same defect twice.
CREDENTIAL_ERRORS = {"token_in_query", "token_in_body"}
EDGE_RECORDS = 150  # per synced stream, edge profile: nulls, empty arrays, extreme strings
Found = list[tuple[str, str]]  # (JSON pointer, message) of each schema error in one record
RecordViolations = dict[str, dict[Any, Found]]  # stream -> record id -> its schema errors


@check("CON-01", pillar="contract", severity="high", judges_requests=True)
def requests_conform(ctx: CheckContext) -> None:
    """Every request it makes conforms to the platform's contract.

    Paths, methods, query parameters, headers and bodies are validated against the OpenAPI
    contract as the sandbox receives them. Production rejects what breaks the contract, so a
    connector that relies on leniency (an out-of-range page size, an undeclared parameter)
    fails there even when it seems to work elsewhere.
    """
    run = ctx.sync(ctx.tenant())
    ctx.require(judge_requests_conform(run.requests, run.error))


def judge_requests_conform(log: RequestLog, error: RunError | None = None) -> Finding | None:
    if not log:
        return Finding.of(
            "the connector made no request, so there is nothing to judge",
            run_error=str(error) if error else None,
        )
    bad = [e for e in log if violations(e)]
    if not bad:
        return None
    return Finding.of(
        f"{len(bad)} of {len(log)} request(s) broke the contract, e.g. {bad[0].line()}: {listing(bad)}",
        expected="every request valid against the contract (see each violation's pointer)",
        requests=bad,
    )


def listing(entries: Iterable[LoggedRequest]) -> str:
    """The five commonest violations among log entries: `/query/limit: ... (4x); ...`."""
    kinds = Counter(f"{v.pointer}: {v.message}" for e in entries for v in violations(e))
    return "; ".join(f"{text} ({n}x)" for text, n in kinds.most_common(5))


def violations(entry: LoggedRequest) -> list[RequestViolation]:
    """A request's contract violations, less a misplaced credential's (AUTH-01 names those)."""
    if entry.auth.error in CREDENTIAL_ERRORS:
        return [v for v in entry.violations if not v.pointer.startswith(("/query/", "/body"))]
    return list(entry.violations)


@check("CON-02", pillar="contract", severity="high", level="standard")
def records_conform(ctx: CheckContext) -> None:
    """Every record it stores conforms to its collection's schema.

    The tenant holds awkward but valid data (the `edge` profile: many nulls, empty arrays,
    maximum-length strings in non-Latin scripts). After a full sync, each record in the replica
    is validated against the item schema of its collection (leaving out fields the manifest does
    not list in `[connector.fields]` is data minimization, not a violation). A connector that
    "normalizes" what it reads (turns null into "", drops empty lists, reformats dates) stores
    records that are no longer what the platform holds, and the customer's system receives data
    the contract says cannot exist.
    """
    sizes = {name: EDGE_RECORDS if name in ctx.manifest.streams else 0 for name in ctx.contract.collections}
    tenant = ctx.tenant(sizes, profile="edge", purpose="edge")
    run = ctx.sync(tenant, check_first=False)
    stored = {stream: len(rows) for stream, rows in run.replica.rows.items()}
    ctx.require(judge_records_conform(stored, record_violations(ctx, run.replica)))
    ctx.require(judge_edge_sync(run.error, run.requests, sum(stored.values()), sum(sizes.values())))


def record_violations(ctx: CheckContext, replica: Replica) -> RecordViolations:
    """Each stored record's schema errors (none listed for a record without any); a stream that
    is no collection of the contract is left out (`judge_records_conform` names it)."""
    out: RecordViolations = {}
    for stream, rows in sorted(replica.rows.items()):
        col = ctx.contract.collections.get(stream)
        if col is None:
            continue
        validator = ctx.contract.for_answers.validator(col.item_schema_uri)  # records are answers
        out[stream] = {}
        for record_id, record in rows.items():
            errors = [e for e in validator.iter_errors(record) if not ctx.omitted(stream, e)]
            if errors:
                out[stream][record_id] = [(pointer(e), e.message) for e in errors]
    return out


def judge_records_conform(stored: Mapping[str, int], found: RecordViolations) -> Finding | None:
    """`stored` is stream -> records in the replica; `found` the schema errors of those records,
    per collection (a stored stream missing from it is no collection)."""
    problems = [
        f"stored {n} record(s) under {stream!r}, which is no collection"
        for stream, n in sorted(stored.items())
        if n and stream not in found
    ]
    counts: Counter[str] = Counter()
    first = None
    for stream, records in found.items():
        for record_id, errors in records.items():
            counts.update(f"{stream}{p}" for p, _ in errors)
            if first is None:
                first = f"{stream} {record_id}: " + "; ".join(f"{p or '/'}: {m[:120]}" for p, m in errors[:3])
        if records:
            held = stored.get(stream, 0)
            problems.append(f"{len(records)} of {held} stored {stream} record(s) break the {stream} schema")
    if not problems:
        return None
    by_field = ", ".join(f"{p} ({n}x)" for p, n in counts.most_common(5))
    return Finding.of(
        "; ".join(problems)
        + (f"; e.g. {first}" if first else "")
        + (f"; by field: {by_field}" if by_field else ""),
        expected="every stored record valid against its collection's item schema, as sent",
        violations=dict(counts.most_common(20)),
    )


def judge_edge_sync(error: RunError | None, log: RequestLog, stored: int, held: int) -> Finding | None:
    """The edge-case sync must complete and store something, or CON-02 judged nothing."""
    if error is not None:
        return Finding.of(
            f"the full sync of edge-case data (nulls, empty arrays, long non-Latin strings) did not "
            f"complete: {error}",
            expected="sync(None) returns normally on any data the contract allows",
            requests=log.failed()[-5:],
        )
    if stored == 0:
        return Finding.of(
            f"the sync stored no records, so there is nothing to judge (the tenant holds {held})",
            expected="the synced streams' records in the replica",
        )
    return None


def push_bodies(ctx: CheckContext, tenant: TenantHandle, stream: str, n: int) -> list[dict[str, Any]]:
    """`n` create bodies for a pushed stream that conform to the contract's create schema.

    Made from the tenant's own records, cut down to the create schema's properties, so that
    references (a contact's company) point at records that exist. Needs records in the stream.
    """
    col = ctx.contract.collections[stream]
    if col.create_op is None:
        raise RuntimeError(f"the contract has no create operation for {stream}")
    media = col.create_op.body_media
    # JSON first; a form-encoded write (Stripe's) takes the same fields, encoded by the connector
    uri = next((u for m, u in media.items() if u and "json" in m), None) or next(
        (u for m, u in media.items() if u and "form" in m), None
    )
    if uri is None:
        raise RuntimeError(f"{col.create_op} has no JSON or form request body schema")
    schema, _ = ctx.contract.deref({"$ref": uri}, uri)
    allowed = set(schema.get("properties", {})) or None
    validator = ctx.contract.validator(uri)
    out = []
    for record in tenant.records(stream):
        body = {
            k: v
            for k, v in record.items()
            if (k in allowed if allowed else k not in (col.id_field, col.updated_field))
        }
        for error in validator.iter_errors(body):  # drop optional fields the create schema refuses
            if error.absolute_path and error.absolute_path[0] not in schema.get("required", ()):
                body.pop(error.absolute_path[0], None)
        if validator.is_valid(body):
            out.append(body)
            if len(out) == n:
                return out
    raise RuntimeError(
        f"cannot make {n} valid bodies for {col.create_op} from the tenant's {stream} "
        f"(made {len(out)}); give the tenant records in {stream}"
    )


def pointer(error: Any) -> str:
    """The JSON pointer of a schema error; for a missing required property, that property's."""
    path = "".join(f"/{p}" for p in error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        if missing:
            return f"{path}/{missing[0]}"
    return path
