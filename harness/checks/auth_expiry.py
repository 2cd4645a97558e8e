"""AUTH-03: a token that expires in the middle of a sync is renewed, and nothing is lost."""

from __future__ import annotations

from harness.checks.context import CheckContext, RunError
from harness.checks.failures import Finding
from harness.checks.registry import check
from harness.core import Fault, RequestLog

SHORT_TOKEN_TTL = 5  # seconds: tokens that run out during a sync on a slow machine too


@check("AUTH-03", pillar="auth", severity="critical", level="standard", requires=("expiring_tokens",))
def survives_token_expiry(ctx: CheckContext) -> None:
    """Gets a new token when its token expires in the middle of a sync, and loses nothing.

    Tokens are short-lived, and the platform expires the connector's token early on the second
    list request of every stream (a token is refused with 401 `invalid_token` before its
    `expires_in` runs out when it is revoked, rotated or the clocks disagree). The sync must
    fetch a new token from the token endpoint (client credentials again, or the newest refresh
    token: refresh tokens rotate, each refresh answers a new one and spends the one presented),
    retry, and finish with a replica equal to the platform's data.
    """
    sizes = {stream: ctx.pages(stream, 1.5) for stream in ctx.manifest.streams}  # two list requests each
    tenant = ctx.tenant(sizes, token_ttl=SHORT_TOKEN_TTL, purpose="expiry")
    tenant.set_faults([Fault.expired_token(ctx.list_op(s), after=1) for s in ctx.manifest.streams])
    run = ctx.sync(tenant, check_first=False)
    ctx.require(judge_refresh_not_reused(run.requests))
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


def judge_refresh_not_reused(log: RequestLog) -> Finding | None:
    """A rotated refresh token presented again: the platform refuses it and, as OAuth 2.1 asks,
    revokes the whole grant (a reused refresh token looks like a stolen one)."""
    reused = log.token().auth_error("refresh_token_reused")
    if not reused:
        return None
    first = reused[0]
    return Finding.of(
        f"presented a refresh token that was already used ({first.auth.token_id}): {first.line()} "
        f"invalid_grant, and the platform revoked the grant; each refresh answers a new "
        f"refresh_token that replaces the one sent",
        expected="keep the refresh_token of each token response and send that one next time",
        requests=reused,
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
