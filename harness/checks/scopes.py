"""AUTH-02, least privilege: the scopes a connector's tokens carry against those its calls need."""

from __future__ import annotations

from collections.abc import Mapping

from harness.checks.context import CheckContext, RunError
from harness.checks.contract import push_bodies
from harness.checks.failures import Finding
from harness.checks.registry import check
from harness.connectors import ConnectorFailed, ConnectorTimeout
from harness.core import RequestLog

Scopes = Mapping[str, frozenset[str]]  # operationId -> the scopes the contract says it needs


@check("AUTH-02", pillar="auth", severity="high", level="standard", requires=("scopes",))
def least_privilege(ctx: CheckContext) -> None:
    """Asks only for the scopes its operations need (least privilege).

    The connector runs `check()` and a full sync and, if it declares pushes, pushes one valid
    record per pushed stream, so it does everything it says it does. The scopes granted to its
    tokens (what it asked the token endpoint for) must equal the scopes the contract requires for
    the operations it actually called. A scope it never uses is access a leaked token should not
    carry; a scope it lacks makes the platform refuse its requests with 403.
    """
    sizes = {stream: 25 for stream in (*ctx.manifest.streams, *ctx.manifest.pushes)}
    tenant = ctx.tenant(sizes, purpose="scopes")
    run = ctx.sync(tenant)  # check() too: it may call an operation (and need a scope) the sync does not
    pushed: dict[str, RunError] = {}
    if ctx.manifest.pushes:
        connector = ctx.connector(tenant)
        try:
            for stream in ctx.manifest.pushes:
                try:
                    connector.push(stream, push_bodies(ctx, tenant, stream, 1))
                except (ConnectorFailed, ConnectorTimeout) as exc:
                    pushed[stream] = exc
        finally:
            connector.close()
    log = tenant.requests()
    scopes = {op.operation_id: op.scopes for op in ctx.contract.operations}
    failures = [f"sync: {run.error}"] if run.error else []
    failures += [f"push({stream!r}): {exc}" for stream, exc in pushed.items()]
    ctx.require(judge_scopes(log, scopes, failures, run_error=run.error))


def needed_scopes(api: RequestLog, scopes: Scopes) -> dict[str, set[str]]:
    """scope -> the operations it called that need it."""
    needed_by: dict[str, set[str]] = {}
    for e in api:
        for scope in scopes.get(e.operation or "", frozenset()):
            needed_by.setdefault(scope, set()).add(e.operation or "")
    return needed_by


def judge_scopes(
    log: RequestLog, scopes: Scopes, failures: list[str], *, run_error: RunError | None = None
) -> Finding | None:
    """Missing scopes first (a 403 explains a failed call), then calls that did not complete
    (a stream never reached leaves its scope looking unused), then scopes it never used."""
    api = RequestLog([e for e in log.api() if e.operation], log.token_operation)
    granted = {scope for e in api for scope in e.auth.scopes}
    if not granted:
        return Finding.of(
            "no API request carried a token the platform had issued, so its scopes cannot be judged",
            expected="API requests with Authorization: Bearer <token from the token endpoint>",
            requests=api or log,
            run_error=str(run_error) if run_error else None,
        )
    needed_by = needed_scopes(api, scopes)
    needed = " ".join(sorted(needed_by))
    missing = sorted(set(needed_by) - granted)
    if missing:
        refused = [e for e in api if e.auth.error == "insufficient_scope"]
        return Finding.of(
            f"its tokens lacked scope(s) {', '.join(missing)} needed by "
            f"{', '.join(sorted(set().union(*(needed_by[s] for s in missing))))}; "
            f"{len(refused)} request(s) were refused with 403",
            expected=f"scope={needed} in the token request",
            requests=refused,
            missing=missing,
            granted=sorted(granted),
        )
    if failures:
        return Finding.of(
            "could not exercise every declared stream and push, so its scope needs are not known: "
            + "; ".join(failures),
            expected="check(), sync(None) and push() of a valid record complete",
            requests=log.failed()[-5:],
        )
    unused = sorted(granted - set(needed_by))
    if unused:
        called = ", ".join(
            f"{op} ({' '.join(sorted(scopes.get(op, frozenset()))) or 'no scope'})"
            for op in sorted({e.operation for e in api if e.operation})
        )
        return Finding.of(
            f"asked for {len(unused)} scope(s) it never used: {', '.join(unused)}; its tokens carried "
            f"{' '.join(sorted(granted))}, but the operations it called ({called}) need only {needed}",
            expected=f"scope={needed} in the token request",
            unused=unused,
            granted=sorted(granted),
            needed=sorted(needed_by),
        )
    return None
