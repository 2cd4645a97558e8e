"""CON-03: pushes carry an Idempotency-Key and bodies that conform to the contract."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from harness.checks.context import CheckContext, RunError
from harness.checks.contract import listing, push_bodies, violations
from harness.checks.failures import Finding, NotApplicable
from harness.checks.registry import check
from harness.connectors import ConnectorFailed, ConnectorTimeout
from harness.contract import Contract
from harness.core import LoggedRequest, RequestLog

PUSHED = 3  # records pushed per pushed stream
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
IDEMPOTENCY_HEADER = "idempotency-key"


@check(
    "CON-03", pillar="contract", severity="high", level="standard", requires=("writes",), judges_requests=True
)
def pushes_are_idempotent_and_valid(ctx: CheckContext) -> None:
    """Pushes carry an Idempotency-Key and bodies that conform to the contract.

    For each stream the manifest pushes, a few valid records are pushed. Every write request
    to an operation that accepts an `Idempotency-Key` header must carry one (a different key for
    a different record, the same key for a retry of the same one), so that a retry after a
    timeout or a 5xx cannot create a duplicate; and its body must conform to the contract's
    create schema. Each record must end up on the platform exactly once.
    """
    if not ctx.manifest.pushes:
        raise NotApplicable("the manifest declares no pushes (`pushes = []`)")
    sizes = {s: 10 for s in (*ctx.manifest.streams, *ctx.manifest.pushes)}
    tenant = ctx.tenant(sizes, purpose="push")
    bodies = {stream: push_bodies(ctx, tenant, stream, PUSHED) for stream in ctx.manifest.pushes}
    before = {stream: len(tenant.records(stream)) for stream in ctx.manifest.pushes}
    mark = tenant.requests().last_seq
    errors: dict[str, RunError] = {}
    connector = ctx.connector(tenant)
    try:
        for stream, records in bodies.items():
            try:
                connector.push(stream, records)
            except (ConnectorFailed, ConnectorTimeout) as exc:
                errors[stream] = exc
    finally:
        connector.close()
    writes = writes_of(tenant.requests(since=mark))
    creates = ", ".join(str(ctx.contract.collections[s].create_op) for s in ctx.manifest.pushes)
    ctx.require(judge_writes_made(writes, tenant.requests(since=mark), list(bodies), errors, creates))
    ctx.require(judge_idempotency_keys(writes, keyed_operations(ctx.contract)))
    ctx.require(judge_push_bodies(writes))
    ctx.require(judge_keys_unique(writes))
    ctx.require(judge_pushes_completed(writes, errors))
    created = {stream: len(tenant.records(stream)) - before[stream] for stream in bodies}
    ctx.require(judge_created_once(writes, created, {s: len(b) for s, b in bodies.items()}))


def writes_of(log: RequestLog) -> list[LoggedRequest]:
    return [e for e in log.api() if e.method in WRITE_METHODS]


def keyed_operations(contract: Contract) -> frozenset[str]:
    """The operations that accept an Idempotency-Key header: only there can a key make a retry safe."""
    return frozenset(
        op.operation_id
        for op in contract.operations
        if any(p.location == "header" and p.name.lower() == IDEMPOTENCY_HEADER for p in op.parameters)
    )


def judge_writes_made(
    writes: list[LoggedRequest],
    log: RequestLog,
    streams: list[str],
    errors: Mapping[str, RunError],
    creates: str,
) -> Finding | None:
    if writes:
        return None
    return Finding.of(
        f"pushing {PUSHED} record(s) to {', '.join(streams)} made no write request to the platform"
        + (f" ({next(iter(errors.values()))})" if errors else ""),
        expected=f"one create request per record ({creates})",
        requests=log,
    )


def judge_idempotency_keys(writes: list[LoggedRequest], keyed: Collection[str]) -> Finding | None:
    """A write to an operation that takes an Idempotency-Key must send one. (PUT and DELETE on
    operations that take none are idempotent by HTTP's rules.)"""
    keyless = [e for e in writes if e.operation in keyed and not e.idempotency_key]
    if not keyless:
        return None
    return Finding.of(
        f"{len(keyless)} of {len(writes)} push request(s) had no Idempotency-Key header, e.g. "
        f"{keyless[0].line()}; a retry after a timeout or a 5xx would create a duplicate",
        expected="an Idempotency-Key header on every write: unique per record, reused on retries",
        requests=keyless,
    )


def judge_push_bodies(writes: list[LoggedRequest]) -> Finding | None:
    invalid = [e for e in writes if violations(e)]
    if not invalid:
        return None
    return Finding.of(
        f"{len(invalid)} of {len(writes)} push request(s) broke the contract, e.g. "
        f"{invalid[0].line()}: {listing(invalid)}",
        expected="every push body valid against the contract's create schema",
        requests=invalid,
    )


def judge_keys_unique(writes: list[LoggedRequest]) -> Finding | None:
    """One key, one body: the platform replays (or refuses) a key it has seen with another body."""
    bodies_by_key: dict[tuple[str, str], set[str]] = {}
    for e in writes:
        if e.idempotency_key:
            bodies_by_key.setdefault((e.path, e.idempotency_key), set()).add(e.body_digest)
    shared = {key: digests for key, digests in bodies_by_key.items() if len(digests) > 1}
    if not shared:
        return None
    (path, key), digests = next(iter(shared.items()))
    return Finding.of(
        f"used the same Idempotency-Key for different records: {key!r} on {len(digests)} different "
        f"bodies to {path}; the platform replays or refuses every record after the first",
        expected="a new Idempotency-Key for each record, the same one only for retries",
        requests=[e for e in writes if e.idempotency_key == key],
    )


def judge_pushes_completed(writes: list[LoggedRequest], errors: Mapping[str, RunError]) -> Finding | None:
    if not errors:
        return None
    stream, error = next(iter(errors.items()))
    return Finding.of(
        f"push({stream!r}, {PUSHED} valid records) failed: {error}",
        expected="push() returns normally for records that conform to the create schema",
        requests=[e for e in writes if e.status >= 400],
    )


def judge_created_once(
    writes: list[LoggedRequest], created: Mapping[str, int], pushed: Mapping[str, int]
) -> Finding | None:
    """`created` is stream -> records the platform gained; `pushed` how many were pushed."""
    wrong = {stream: n for stream, n in created.items() if n != pushed[stream]}
    if not wrong:
        return None
    stream, n = next(iter(wrong.items()))
    return Finding.of(
        f"pushing {pushed[stream]} record(s) to {stream} created {n} on the platform",
        expected="each pushed record created exactly once",
        requests=writes,
    )
