"""Contract checks: the connector speaks the platform's API as the contract defines it."""

from __future__ import annotations

from collections import Counter
from typing import Any

from harness.checks.context import CheckContext
from harness.checks.failures import NotApplicable
from harness.checks.registry import check
from harness.connectors import ConnectorFailed, ConnectorTimeout
from harness.core import LoggedRequest, RequestViolation
from harness.runtime import TenantHandle

# Where the credential went is AUTH-01's finding; CON-01 does not report the same defect twice.
CREDENTIAL_ERRORS = {"token_in_query", "token_in_body"}
EDGE_RECORDS = 150  # per synced stream, edge profile: nulls, empty arrays, extreme strings
PUSHED = 3  # records pushed per pushed stream
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@check("CON-01", pillar="contract", severity="high")
def requests_conform(ctx: CheckContext) -> None:
    """Every request it makes conforms to the platform's contract.

    Paths, methods, query parameters, headers and bodies are validated against the OpenAPI
    contract as the sandbox receives them. Production rejects what breaks the contract, so a
    connector that relies on leniency (an out-of-range page size, an undeclared parameter)
    fails there even when it seems to work elsewhere.
    """
    tenant = ctx.tenant()
    run = ctx.sync(tenant)
    bad = [e for e in run.requests if _violations(e)]
    if not run.requests:
        raise ctx.fail(
            "the connector made no request, so there is nothing to judge",
            run_error=str(run.error) if run.error else None,
        )
    if bad:
        raise ctx.fail(
            f"{len(bad)} of {len(run.requests)} request(s) broke the contract, e.g. "
            f"{bad[0].line()}: {_listing(bad)}",
            expected="every request valid against the contract (see each violation's pointer)",
            requests=bad,
        )


def _listing(entries: list[LoggedRequest]) -> str:
    """The five commonest violations among log entries: `/query/limit: ... (4x); ...`."""
    kinds = Counter(f"{v.pointer}: {v.message}" for e in entries for v in _violations(e))
    return "; ".join(f"{text} ({n}x)" for text, n in kinds.most_common(5))


def _violations(entry: LoggedRequest) -> list[RequestViolation]:
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
    stored = sum(len(rows) for rows in run.replica.rows.values())
    problems: list[str] = []
    counts: Counter[str] = Counter()
    first = None
    for stream, rows in sorted(run.replica.rows.items()):
        col = ctx.contract.collections.get(stream)
        if col is None:
            if rows:
                problems.append(f"stored {len(rows)} record(s) under {stream!r}, which is no collection")
            continue
        validator = ctx.contract.validator(col.item_schema_uri)
        bad = 0
        for record_id, record in rows.items():
            errors = [e for e in validator.iter_errors(record) if not ctx.omitted(stream, e)]
            found = [(_pointer(e), e.message) for e in errors]
            if not found:
                continue
            bad += 1
            counts.update(f"{stream}{pointer}" for pointer, _ in found)
            if first is None:
                first = f"{stream} {record_id}: " + "; ".join(f"{p or '/'}: {m[:120]}" for p, m in found[:3])
        if bad:
            problems.append(f"{bad} of {len(rows)} stored {stream} record(s) break the {stream} schema")
    if problems:
        listing = ", ".join(f"{pointer} ({n}x)" for pointer, n in counts.most_common(5))
        raise ctx.fail(
            "; ".join(problems)
            + (f"; e.g. {first}" if first else "")
            + (f"; by field: {listing}" if listing else ""),
            expected="every stored record valid against its collection's item schema, as sent",
            violations=dict(counts.most_common(20)),
        )
    if run.error is not None:
        raise ctx.fail(
            f"the full sync of edge-case data (nulls, empty arrays, long non-Latin strings) did not "
            f"complete: {run.error}",
            expected="sync(None) returns normally on any data the contract allows",
            requests=run.requests.failed()[-5:],
        )
    if stored == 0:
        raise ctx.fail(
            f"the sync stored no records, so there is nothing to judge (the tenant holds "
            f"{sum(sizes.values())})",
            expected="the synced streams' records in the replica",
        )


@check("CON-03", pillar="contract", severity="high", level="standard")
def pushes_are_idempotent_and_valid(ctx: CheckContext) -> None:
    """Pushes carry an Idempotency-Key and bodies that conform to the contract.

    For each stream the manifest pushes, a few valid records are pushed. Every write request
    must carry an `Idempotency-Key` header (a different key for a different record, the same key
    for a retry of the same one), so that a retry after a timeout or a 5xx cannot create a
    duplicate; and its body must conform to the contract's create schema. Each record must end
    up on the platform exactly once.
    """
    if not ctx.manifest.pushes:
        raise NotApplicable("the manifest declares no pushes (`pushes = []`)")
    sizes = {s: 10 for s in (*ctx.manifest.streams, *ctx.manifest.pushes)}
    tenant = ctx.tenant(sizes, purpose="push")
    bodies = {stream: push_bodies(ctx, tenant, stream, PUSHED) for stream in ctx.manifest.pushes}
    before = {stream: len(tenant.records(stream)) for stream in ctx.manifest.pushes}
    mark = tenant.requests().last_seq
    errors = {}
    connector = ctx.connector(tenant)
    try:
        for stream, records in bodies.items():
            try:
                connector.push(stream, records)
            except (ConnectorFailed, ConnectorTimeout) as exc:
                errors[stream] = exc
    finally:
        connector.close()
    log = tenant.requests(since=mark)
    writes = [e for e in log.api() if e.method in WRITE_METHODS]
    if not writes:
        raise ctx.fail(
            f"pushing {PUSHED} record(s) to {', '.join(bodies)} made no write request to the platform"
            + (f" ({next(iter(errors.values()))})" if errors else ""),
            expected=f"one create request per record ({_create_ops(ctx)})",
            requests=log,
        )
    keyless = [e for e in writes if not e.idempotency_key]
    if keyless:
        raise ctx.fail(
            f"{len(keyless)} of {len(writes)} push request(s) had no Idempotency-Key header, e.g. "
            f"{keyless[0].line()}; a retry after a timeout or a 5xx would create a duplicate",
            expected="an Idempotency-Key header on every write: unique per record, reused on retries",
            requests=keyless,
        )
    invalid = [e for e in writes if _violations(e)]
    if invalid:
        raise ctx.fail(
            f"{len(invalid)} of {len(writes)} push request(s) broke the contract, e.g. "
            f"{invalid[0].line()}: {_listing(invalid)}",
            expected="every push body valid against the contract's create schema",
            requests=invalid,
        )
    bodies_by_key: dict[tuple[str, str | None], set[str]] = {}
    for e in writes:
        bodies_by_key.setdefault((e.path, e.idempotency_key), set()).add(e.body_digest)
    shared = {key: digests for key, digests in bodies_by_key.items() if len(digests) > 1}
    if shared:
        (path, key), digests = next(iter(shared.items()))
        raise ctx.fail(
            f"used the same Idempotency-Key for different records: {key!r} on {len(digests)} different "
            f"bodies to {path}; the platform replays or refuses every record after the first",
            expected="a new Idempotency-Key for each record, the same one only for retries",
            requests=[e for e in writes if e.idempotency_key == key],
        )
    if errors:
        stream, error = next(iter(errors.items()))
        raise ctx.fail(
            f"push({stream!r}, {PUSHED} valid records) failed: {error}",
            expected="push() returns normally for records that conform to the create schema",
            requests=[e for e in writes if e.status >= 400],
        )
    wrong = {
        stream: len(tenant.records(stream)) - before[stream]
        for stream in bodies
        if len(tenant.records(stream)) - before[stream] != len(bodies[stream])
    }
    if wrong:
        stream, created = next(iter(wrong.items()))
        raise ctx.fail(
            f"pushing {len(bodies[stream])} record(s) to {stream} created {created} on the platform",
            expected="each pushed record created exactly once",
            requests=writes,
        )


def push_bodies(ctx: CheckContext, tenant: TenantHandle, stream: str, n: int) -> list[dict[str, Any]]:
    """`n` create bodies for a pushed stream that conform to the contract's create schema.

    Made from the tenant's own records, cut down to the create schema's properties, so that
    references (a contact's company) point at records that exist. Needs records in the stream.
    """
    col = ctx.contract.collections[stream]
    if col.create_op is None:
        raise RuntimeError(f"the contract has no create operation for {stream}")
    uri = next((u for media, u in col.create_op.body_media.items() if u and "json" in media), None)
    if uri is None:
        raise RuntimeError(f"{col.create_op} has no JSON request body schema")
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


def _pointer(error: Any) -> str:
    """The JSON pointer of a schema error; for a missing required property, that property's."""
    path = "".join(f"/{p}" for p in error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        if missing:
            return f"{path}/{missing[0]}"
    return path


def _create_ops(ctx: CheckContext) -> str:
    return ", ".join(str(ctx.contract.collections[s].create_op) for s in ctx.manifest.pushes)
