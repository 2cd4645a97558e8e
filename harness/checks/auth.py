"""Auth checks: how the connector gets and presents its credentials (AUTH-01, AUTH-03, AUTH-04;
least privilege, AUTH-02, is in scopes.py)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection

from harness.checks.context import REVOKED_CALL_TIMEOUT, CheckContext, RunError
from harness.checks.failures import Finding
from harness.checks.registry import check
from harness.connectors import ConnectorFailed, ConnectorTimeout
from harness.core import Fault, RequestLog

SHORT_TOKEN_TTL = 5  # seconds: tokens that run out during a sync on a slow machine too
MAX_ATTEMPTS_AFTER_REVOCATION = 5  # token + API requests once the client is revoked
PER_PARALLEL_OPERATION = 2  # more allowed per further operation tried: its first attempt and one renewal


@check("AUTH-01", pillar="auth", severity="critical")
def token_from_token_endpoint(ctx: CheckContext) -> None:
    """Gets its access token from the token endpoint and sends it only as `Authorization: Bearer`.

    A token in a query string or a body ends up in proxy logs, browser history and analytics;
    the platform refuses it. The connector must obtain tokens with the client-credentials grant
    and present them in the Authorization header on every API request.
    """
    tenant = ctx.tenant()
    run = ctx.sync(tenant)
    public = {op.operation_id for op in ctx.contract.operations if op.public}
    ctx.require(judge_made_requests(run.requests, run.error))
    ctx.require(judge_token_placement(run.requests))
    ctx.require(judge_token_obtained(run.requests, tenant.token_url))
    ctx.require(judge_bearer_on_api(run.requests, public))


def judge_made_requests(log: RequestLog, error: RunError | None) -> Finding | None:
    if log:
        return None
    return Finding.of(
        "the connector made no request to the platform at all",
        expected="a token request, then API requests with Authorization: Bearer",
        run_error=str(error) if error else None,
    )


def judge_token_placement(log: RequestLog) -> Finding | None:
    """A token in the query string or body is refused by the platform and lands in logs."""
    misplaced = [e for e in log if e.auth.credential in ("query", "body")]
    if not misplaced:
        return None
    where = "query string" if misplaced[0].auth.credential == "query" else "request body"
    return Finding.of(
        f"sent its access token in the {where} of {len(misplaced)} request(s), e.g. {misplaced[0].line()}",
        expected="the token only in the Authorization header: Authorization: Bearer <token>",
        requests=misplaced,
    )


def judge_token_obtained(log: RequestLog, token_url: str | None) -> Finding | None:
    """A token from the token endpoint; nothing to get where the contract has none (a static API
    key or bearer secret is the credential itself)."""
    if log.token_operation is None or log.token().status(200):
        return None
    return Finding.of(
        "never obtained a token from the token endpoint",
        expected=f"POST {token_url} with grant_type=client_credentials",
        requests=log.api(),
    )


def judge_bearer_on_api(log: RequestLog, public: Collection[str] = ()) -> Finding | None:
    """Every API request to an operation that needs a credential carries a bearer token. An
    operation the contract leaves open (`security: []`) may be called before the first token."""
    tokens = log.token().status(200)
    first_token = tokens[0].seq if tokens else None
    api = log.api()
    early = [e for e in api if first_token is not None and e.seq < first_token and e.operation not in public]
    bad = early or list(api.auth_error("missing_token"))
    if not bad:
        return None
    return Finding.of(
        f"made {len(bad)} API request(s) without a bearer token, e.g. {bad[0].line()}",
        expected="Authorization: Bearer <token> on every API request",
        requests=bad,
    )


@check("AUTH-03", pillar="auth", severity="critical", level="standard", requires=("token_endpoint",))
def survives_token_expiry(ctx: CheckContext) -> None:
    """Gets a new token when its token expires in the middle of a sync, and loses nothing.

    Tokens are short-lived, and the platform expires the connector's token early on the second
    list request of every stream (a token is refused with 401 `invalid_token` before its
    `expires_in` runs out when it is revoked, rotated or the clocks disagree). The sync must
    fetch a new token from the token endpoint, retry, and finish with a replica equal to the
    platform's data.
    """
    sizes = {stream: ctx.pages(stream, 1.5) for stream in ctx.manifest.streams}  # two list requests each
    tenant = ctx.tenant(sizes, token_ttl=SHORT_TOKEN_TTL, purpose="expiry")
    tenant.set_faults([Fault.expired_token(ctx.list_op(s), after=1) for s in ctx.manifest.streams])
    run = ctx.sync(tenant, check_first=False)
    ctx.require(judge_expiry_reached(run.requests, sizes, run.error))
    ctx.require(judge_renewed_after_expiry(run.requests, run.error))
    expired = run.requests.auth_error("expired_token")
    ctx.require_converged(
        tenant,
        run.replica,
        after=f"after its token expired mid-sync ({len(expired)} time(s))",
        expected="the sync retries the refused request with a new token and loses nothing",
        requests=expired,
    )


def judge_expiry_reached(log: RequestLog, sizes: dict[str, int], error: RunError | None) -> Finding | None:
    """The scenario needs a second list request per stream, or there is no expiry to survive."""
    if log.auth_error("expired_token"):
        return None
    return Finding.of(
        "no request presented an expired token: the connector made fewer than two list requests "
        f"per stream, so expiry could not be tested ({len(log)} request(s) in all)",
        expected=f"several pages per stream ({', '.join(f'{s}: {n}' for s, n in sizes.items())} records)",
        requests=log,
        run_error=str(error) if error else None,
    )


def judge_renewed_after_expiry(log: RequestLog, error: RunError | None) -> Finding | None:
    """After the first 401 expired_token the connector must carry on with a new token: one it
    fetched after the 401, or one it already holds (renewed ahead of `expires_in`, or by a
    parallel stream) and that the platform accepted."""
    expired = log.auth_error("expired_token")
    if not expired:
        return None
    first = expired[0]
    renewed = log.token().status(200).after(first)
    if error is not None:
        return Finding.of(
            f"the sync failed after the platform expired its token ({first.method} {first.path} "
            f"-> {first.status} expired_token), "
            f"having made {len(renewed)} token request(s) after that 401: {error}",
            expected="on 401 invalid_token: fetch a new token from the token endpoint, retry, carry on",
            requests=[first, *log.after(first)[:4]],
        )
    stale = {e.auth.token_id for e in expired}
    fresh = [e for e in log.api().after(first) if e.status < 400 and e.auth.token_id not in stale]
    if renewed or fresh:
        return None
    return Finding.of(
        f"never fetched a new token after the platform expired its token ({first.method} "
        f"{first.path} -> {first.status}); "
        f"{len(log.token().status(200))} successful token request(s) in all",
        expected="a new token from the token endpoint after a 401 invalid_token",
        requests=expired,
    )


@check("AUTH-04", pillar="auth", severity="high", level="standard", timeout=60)
def stops_on_revoked_credentials(ctx: CheckContext) -> None:
    """Stops cleanly, with an error, when its credentials are revoked; no retry storm.

    After `check()` succeeds, the platform revokes the connector's client: its token and its
    client secret are refused with 401 from then on. `sync` must fail with an error (not
    hang, not report success) after at most a few attempts: retrying a revoked credential
    cannot succeed, floods the platform and can lock the customer's account. (A connector
    that syncs streams in parallel may try each operation once, and renew once for each.)
    """
    timeout = min(ctx.call_timeout, REVOKED_CALL_TIMEOUT)
    tenant = ctx.tenant(purpose="revoked")
    connector = ctx.connector(tenant)  # check() with valid credentials gets the run's call timeout
    error: RunError | None = None
    try:
        try:
            connector.check()
        except (ConnectorFailed, ConnectorTimeout) as exc:
            raise ctx.fail(
                f"check() failed before the credentials were revoked: {exc}",
                expected="check() succeeds with valid credentials",
                requests=tenant.requests()[-5:],
            ) from None
        mark = tenant.requests().last_seq
        tenant.revoke(tenant.client_id)
        connector.timeout = timeout  # only giving up on revoked credentials must be prompt
        started = time.monotonic()
        try:
            connector.sync(None)
        except (ConnectorFailed, ConnectorTimeout) as exc:
            error = exc
        elapsed = time.monotonic() - started
    finally:
        connector.close()
    ctx.require(
        judge_stops_when_revoked(tenant.requests(since=mark), error, elapsed=elapsed, timeout=timeout)
    )


def attempts_allowed(after: RequestLog) -> int:
    """How many requests a revoked client may make: MAX_ATTEMPTS_AFTER_REVOCATION, and
    PER_PARALLEL_OPERATION more for each further API operation it tried (parallel streams)."""
    operations = {e.operation for e in after.api()}
    return MAX_ATTEMPTS_AFTER_REVOCATION + PER_PARALLEL_OPERATION * max(0, len(operations) - 1)


def judge_stops_when_revoked(
    after: RequestLog, error: RunError | None, *, elapsed: float, timeout: float
) -> Finding | None:
    """`after` is the request log from the revocation on; `error` how the sync ended."""
    token_requests = after.token()
    tally = (
        f"{len(after)} request(s) in {elapsed:.1f} s after revocation "
        f"({len(token_requests)} to the token endpoint, {len(after) - len(token_requests)} API)"
    )
    allowed = attempts_allowed(after)
    if len(after) > allowed:
        statuses = Counter(e.status for e in after)
        return Finding.of(
            f"kept retrying with revoked credentials: {tally}, answered "
            + ", ".join(f"{status} x{n}" for status, n in sorted(statuses.items()))
            + (f"; it did not stop within {timeout:g} s" if isinstance(error, ConnectorTimeout) else ""),
            expected=f"give up with an error after at most {allowed} requests",
            requests=after,
            attempts=len(after),
        )
    if isinstance(error, ConnectorTimeout):
        return Finding.of(
            f"hung after its credentials were revoked: sync did not return within {timeout:g} s ({tally})",
            expected="sync fails promptly with an error naming the refused credentials",
            requests=after,
        )
    if error is None:
        return Finding.of(
            f"sync reported success although its credentials were revoked ({tally}); a customer would "
            f"never learn that the connector stopped syncing",
            expected="sync fails with an error (an exception, or a non-zero exit status)",
            requests=after,
        )
    return None
