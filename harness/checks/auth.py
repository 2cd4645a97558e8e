"""Auth checks: how the connector gets and presents its credentials."""

from __future__ import annotations

import time
from collections import Counter

from harness.checks.context import REVOKED_CALL_TIMEOUT, CheckContext, RunError
from harness.checks.contract import push_bodies
from harness.checks.registry import check
from harness.connectors import ConnectorFailed, ConnectorTimeout
from harness.core import Fault

SHORT_TOKEN_TTL = 5  # seconds: tokens that run out during a sync on a slow machine too
MAX_ATTEMPTS_AFTER_REVOCATION = 5  # token + API requests once the client is revoked


@check("AUTH-01", pillar="auth", severity="critical")
def token_from_token_endpoint(ctx: CheckContext) -> None:
    """Gets its access token from the token endpoint and sends it only as `Authorization: Bearer`.

    A token in a query string or a body ends up in proxy logs, browser history and analytics;
    the platform refuses it. The connector must obtain tokens with the client-credentials grant
    and present them in the Authorization header on every API request.
    """
    tenant = ctx.tenant()
    run = ctx.sync(tenant)
    log = run.requests
    if not log:
        raise ctx.fail(
            "the connector made no request to the platform at all",
            expected="a token request, then API requests with Authorization: Bearer",
            run_error=str(run.error) if run.error else None,
        )
    misplaced = [e for e in log if e.auth.credential in ("query", "body")]
    if misplaced:
        where = "query string" if misplaced[0].auth.credential == "query" else "request body"
        raise ctx.fail(
            f"sent its access token in the {where} of {len(misplaced)} request(s), e.g. "
            f"{misplaced[0].line()}",
            expected="the token only in the Authorization header: Authorization: Bearer <token>",
            requests=misplaced,
        )
    token_requests = log.token().status(200)
    api = log.api()
    if not token_requests:
        raise ctx.fail(
            "never obtained a token from the token endpoint",
            expected=f"POST {tenant.token_url} with grant_type=client_credentials",
            requests=api,
        )
    first_token = token_requests[0].seq
    early = [e for e in api if e.seq < first_token]
    unauthenticated = api.auth_error("missing_token")
    if early or unauthenticated:
        bad = early or unauthenticated
        raise ctx.fail(
            f"made {len(bad)} API request(s) without a bearer token, e.g. {bad[0].line()}",
            expected="Authorization: Bearer <token> on every API request",
            requests=bad,
        )


@check("AUTH-02", pillar="auth", severity="high", level="standard")
def least_privilege(ctx: CheckContext) -> None:
    """Asks only for the scopes its operations need (least privilege).

    The connector runs a full sync and, if it declares pushes, pushes one valid record per
    pushed stream, so it does everything it says it does. The scopes granted to its tokens (what
    it asked the token endpoint for) must equal the scopes the contract requires for the
    operations it actually called. A scope it never uses is access a leaked token should not
    carry; a scope it lacks makes the platform refuse its requests with 403.
    """
    sizes = {stream: 25 for stream in (*ctx.manifest.streams, *ctx.manifest.pushes)}
    tenant = ctx.tenant(sizes, purpose="scopes")
    run = ctx.sync(tenant, check_first=False)
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
    api = [e for e in log.api() if e.operation]
    granted = {scope for e in api for scope in e.auth.scopes}
    if not granted:
        raise ctx.fail(
            "no API request carried a token the platform had issued, so its scopes cannot be judged",
            expected="API requests with Authorization: Bearer <token from the token endpoint>",
            requests=api or log,
            run_error=str(run.error) if run.error else None,
        )
    needed_by: dict[str, set[str]] = {}
    for e in api:
        if e.operation is None:
            continue
        for scope in ctx.contract.operation(e.operation).scopes:
            needed_by.setdefault(scope, set()).add(e.operation)
    unused = sorted(granted - set(needed_by))
    missing = sorted(set(needed_by) - granted)
    called = ", ".join(
        f"{op} ({' '.join(sorted(ctx.contract.operation(op).scopes)) or 'no scope'})"
        for op in sorted({e.operation for e in api if e.operation})
    )
    if unused:
        raise ctx.fail(
            f"asked for {len(unused)} scope(s) it never used: {', '.join(unused)}; its tokens carried "
            f"{' '.join(sorted(granted))}, but the operations it called ({called}) need only "
            f"{' '.join(sorted(needed_by))}",
            expected=f"scope={' '.join(sorted(needed_by))} in the token request",
            unused=unused,
            granted=sorted(granted),
            needed=sorted(needed_by),
        )
    if missing:
        refused = [e for e in api if e.auth.error == "insufficient_scope"]
        raise ctx.fail(
            f"its tokens lacked scope(s) {', '.join(missing)} needed by "
            f"{', '.join(sorted(set().union(*(needed_by[s] for s in missing))))}; "
            f"{len(refused)} request(s) were refused with 403",
            expected=f"scope={' '.join(sorted(needed_by))} in the token request",
            requests=refused,
            missing=missing,
            granted=sorted(granted),
        )
    failures = [f"sync: {run.error}"] if run.error else []
    failures += [f"push({stream!r}): {exc}" for stream, exc in pushed.items()]
    if failures:
        raise ctx.fail(
            "could not exercise every declared stream and push, so its scope needs are not known: "
            + "; ".join(failures),
            expected="sync(None) and push() of a valid record complete",
            requests=log.failed()[-5:],
        )


@check("AUTH-03", pillar="auth", severity="critical", level="standard")
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
    log = run.requests
    expired = log.auth_error("expired_token")
    tokens = log.token().status(200)
    if not expired:
        raise ctx.fail(
            "no request presented an expired token: the connector made fewer than two list requests "
            f"per stream, so expiry could not be tested ({len(log)} request(s) in all)",
            expected=f"several pages per stream ({', '.join(f'{s}: {n}' for s, n in sizes.items())} records)",
            requests=log,
            run_error=str(run.error) if run.error else None,
        )
    first = expired[0]
    renewed = tokens.after(first)
    if run.error is not None:
        raise ctx.fail(
            f"the sync failed after the platform expired its token ({first.method} {first.path} "
            f"-> {first.status} expired_token), "
            f"having made {len(renewed)} token request(s) after that 401: {run.error}",
            expected="on 401 invalid_token: fetch a new token from the token endpoint, retry, carry on",
            requests=[first, *log.after(first)[:4]],
        )
    if not renewed:
        raise ctx.fail(
            f"never fetched a new token after the platform expired its token ({first.method} "
            f"{first.path} -> {first.status}); "
            f"{len(tokens)} successful token request(s) in all",
            expected="a new token from the token endpoint after a 401 invalid_token",
            requests=expired,
        )
    ctx.require_converged(
        tenant,
        run.replica,
        after=f"after its token expired mid-sync ({len(expired)} time(s))",
        expected="the sync retries the refused request with a new token and loses nothing",
        requests=expired,
    )


@check("AUTH-04", pillar="auth", severity="high", level="standard", timeout=60)
def stops_on_revoked_credentials(ctx: CheckContext) -> None:
    """Stops cleanly, with an error, when its credentials are revoked; no retry storm.

    After `check()` succeeds, the platform revokes the connector's client: its token and its
    client secret are refused with 401 from then on. `sync` must fail with an error (not
    hang, not report success) after at most a few attempts: retrying a revoked credential
    cannot succeed, floods the platform and can lock the customer's account.
    """
    timeout = min(ctx.call_timeout, REVOKED_CALL_TIMEOUT)
    tenant = ctx.tenant(purpose="revoked")
    connector = ctx.connector(tenant, timeout=timeout)
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
        started = time.monotonic()
        try:
            connector.sync(None)
        except (ConnectorFailed, ConnectorTimeout) as exc:
            error = exc
        elapsed = time.monotonic() - started
    finally:
        connector.close()
    after = tenant.requests(since=mark)
    token_requests = after.token()
    tally = (
        f"{len(after)} request(s) in {elapsed:.1f} s after revocation "
        f"({len(token_requests)} to the token endpoint, {len(after) - len(token_requests)} API)"
    )
    if len(after) > MAX_ATTEMPTS_AFTER_REVOCATION:
        statuses = Counter(e.status for e in after)
        raise ctx.fail(
            f"kept retrying with revoked credentials: {tally}, answered "
            + ", ".join(f"{status} x{n}" for status, n in sorted(statuses.items()))
            + (f"; it did not stop within {timeout:g} s" if isinstance(error, ConnectorTimeout) else ""),
            expected=f"give up with an error after at most {MAX_ATTEMPTS_AFTER_REVOCATION} requests",
            requests=after,
            attempts=len(after),
        )
    if isinstance(error, ConnectorTimeout):
        raise ctx.fail(
            f"hung after its credentials were revoked: sync did not return within {timeout:g} s ({tally})",
            expected="sync fails promptly with an error naming the refused credentials",
            requests=after,
        )
    if error is None:
        raise ctx.fail(
            f"sync reported success although its credentials were revoked ({tally}); a customer would "
            f"never learn that the connector stopped syncing",
            expected="sync fails with an error (an exception, or a non-zero exit status)",
            requests=after,
        )
