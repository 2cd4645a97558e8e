"""Auth checks: how the connector gets and presents its credentials (AUTH-01, AUTH-03, AUTH-04;
least privilege, AUTH-02, is in scopes.py)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.checks.context import REVOKED_CALL_TIMEOUT, CheckContext, RunError
from harness.checks.failures import Finding
from harness.checks.registry import check
from harness.connectors import ConnectorFailed, ConnectorTimeout
from harness.core import Fault, RequestLog

SHORT_TOKEN_TTL = 5  # seconds: tokens that run out during a sync on a slow machine too
MAX_ATTEMPTS_AFTER_REVOCATION = 5  # token + API requests once the client is revoked
PER_PARALLEL_OPERATION = 2  # more allowed per further operation tried: its first attempt and one renewal


@dataclass(frozen=True)
class Scheme:
    """One security scheme as a connector must use it: what it is and exactly where it goes."""

    name: str
    kind: str  # client_credentials | refresh_token | bearer | basic | api_key
    label: str  # "OAuth2 client credentials", "API key", ...
    place: str  # "header X-API-Key", "Authorization: Bearer <access_token>", ...

    @property
    def oauth2(self) -> bool:
        return self.kind in ("client_credentials", "refresh_token")

    def phrase(self) -> str:
        return f"{self.label} ({self.name}) in {self.place}"


def declared_schemes(schemes: Mapping[str, Mapping[str, Any]], names: Iterable[str]) -> list[Scheme]:
    """The named security schemes of a contract, each with the place its credential goes."""
    out = []
    for name in dict.fromkeys(names):
        scheme = schemes.get(name) or {}
        kind, http = scheme.get("type"), str(scheme.get("scheme", "")).lower()
        if kind in ("oauth2", "openIdConnect"):
            flows = scheme.get("flows") or {}
            grants = [
                g
                for f, g in (
                    ("clientCredentials", "client_credentials"),
                    ("authorizationCode", "refresh_token"),
                )
                if f in flows
            ]
            for grant in grants or ["client_credentials"]:
                label = (
                    "OAuth2 client credentials" if grant == "client_credentials" else "OAuth2 refresh token"
                )
                out.append(
                    Scheme(
                        name, grant, label, "the Authorization header: Authorization: Bearer <access_token>"
                    )
                )
        elif kind == "http" and http == "basic":
            out.append(
                Scheme(
                    name,
                    "basic",
                    "HTTP basic",
                    "the Authorization header: Authorization: Basic base64(username:password)",
                )
            )
        elif kind == "http":
            out.append(
                Scheme(
                    name,
                    "bearer",
                    "static bearer token",
                    "the Authorization header: Authorization: Bearer <api_key>",
                )
            )
        elif kind == "apiKey":
            out.append(Scheme(name, "api_key", "API key", f"{scheme.get('in')} {scheme.get('name')}"))
    return out


GRANT_EXPECTED = {
    "client_credentials": "grant_type=client_credentials with client_id and client_secret",
    "refresh_token": "grant_type=refresh_token with the refresh_token from config (and the client)",
}


@check("AUTH-01", pillar="auth", severity="critical", requires=("credentials",))
def authenticates_as_declared(ctx: CheckContext) -> None:
    """Authenticates as the contract declares, sending each credential only where it belongs.

    OAuth2: a token from the token endpoint (client credentials, or the refresh token the
    harness hands over for an authorization code flow), then only `Authorization: Bearer`.
    A static bearer token, an HTTP basic pair or an API key goes exactly where the contract's
    scheme says (an API key only in its declared header, query parameter or cookie). A
    credential in a query string or a body the contract does not put it in ends up in proxy logs,
    browser history and analytics; the platform refuses it.
    """
    tenant = ctx.tenant()
    run = ctx.sync(tenant)
    public = {op.operation_id for op in ctx.contract.operations if op.public}
    called = {e.operation for e in run.requests.api()} | {ctx.list_op(s) for s in ctx.manifest.streams}
    names = [
        n for op in ctx.contract.operations if op.operation_id in called for req in op.security for n in req
    ]
    schemes = declared_schemes(ctx.contract.security_schemes, names)
    ctx.require(judge_made_requests(run.requests, run.error))
    ctx.require(judge_token_placement(run.requests, schemes))
    ctx.require(judge_grant_declared(run.requests, schemes))
    ctx.require(judge_token_obtained(run.requests, tenant.token_url, schemes))
    if not schemes or all(s.oauth2 for s in schemes):
        ctx.require(judge_bearer_on_api(run.requests, public))
    else:
        ctx.require(judge_credentials_on_api(run.requests, schemes))


def judge_made_requests(log: RequestLog, error: RunError | None) -> Finding | None:
    if log:
        return None
    return Finding.of(
        "the connector made no request to the platform at all",
        expected="a token request, then API requests with Authorization: Bearer",
        run_error=str(error) if error else None,
    )


def judge_token_placement(log: RequestLog, schemes: Collection[Scheme] = ()) -> Finding | None:
    """A token or key in the query string or body is refused by the platform and lands in logs
    (a query parameter the contract declares for an API key is where that key belongs)."""
    misplaced = [
        e
        for e in log
        if e.auth.credential in ("query", "body") and (e.auth.error or "").startswith(("token_in", "key_in"))
    ]
    if not misplaced:
        return None
    first = misplaced[0]
    where = "query string" if first.auth.credential == "query" else "request body"
    if (first.auth.error or "").startswith("token_in"):
        return Finding.of(
            f"sent its access token in the {where} of {len(misplaced)} request(s), e.g. {first.line()}",
            expected="the token only in the Authorization header: Authorization: Bearer <token>",
            requests=misplaced,
        )
    declared = "; or ".join(s.phrase() for s in schemes) or "the place its security scheme declares"
    label = schemes[0].label if len(schemes) == 1 else "credential"  # type: ignore[index]
    return Finding.of(
        f"sent its {label} in the {where} of {len(misplaced)} request(s), e.g. {first.line()}, "
        f"where the contract does not put it",
        expected=f"the credential only as the contract declares: {declared}",
        requests=misplaced,
    )


def judge_token_obtained(
    log: RequestLog, token_url: str | None, schemes: Collection[Scheme] = ()
) -> Finding | None:
    """A token from the token endpoint when the contract's schemes are OAuth2 only; nothing to
    get where a static credential (an API key, a bearer secret, basic) is accepted instead."""
    oauth2 = [s for s in schemes if s.oauth2] if schemes else None
    if token_url is None or (oauth2 is not None and (not oauth2 or len(oauth2) < len(schemes))):
        return None
    if oauth2 is None and log.token_operation is None:
        return None
    if log.token().status(200):
        return None
    grants = sorted({s.kind for s in oauth2 or ()}) or ["client_credentials"]
    asked = sorted({e.auth.grant for e in log.token() if e.auth.grant})
    return Finding.of(
        "never obtained a token from the token endpoint"
        + (f" (asked with grant_type {', '.join(asked)}, refused)" if asked else ""),
        expected=f"POST {token_url} with " + " or ".join(GRANT_EXPECTED[g] for g in grants),
        requests=log.token() or log.api(),
    )


def judge_grant_declared(log: RequestLog, schemes: Collection[Scheme]) -> Finding | None:
    """Tokens by a grant the contract declares: an authorization code platform issues refresh
    tokens to installed apps, and does not let the app stand in for the user with its own client."""
    declared = {s.kind for s in schemes if s.oauth2}
    if not declared:
        return None
    other = [e for e in log.token() if e.auth.grant and e.auth.grant not in declared | {"missing"}]
    if not other:
        return None
    first = other[0]
    return Finding.of(
        f"asked the token endpoint for grant_type={first.auth.grant} in {len(other)} request(s), "
        f"e.g. {first.line()}, which the contract does not declare",
        expected="POST token_url with " + " or ".join(GRANT_EXPECTED[g] for g in sorted(declared)),
        requests=other,
    )


CREDENTIAL_ERRORS = ("missing_token", "unknown_token", "invalid_api_key", "invalid_credentials")


def judge_credentials_on_api(log: RequestLog, schemes: Collection[Scheme]) -> Finding | None:
    """Every API request carries the credential of a scheme the contract declares for it, in
    that scheme's place (a static key, bearer secret or basic pair)."""
    bad = list(log.api().auth_error(*CREDENTIAL_ERRORS))
    if not bad:
        return None
    declared = "; or ".join(s.phrase() for s in schemes)
    return Finding.of(
        f"made {len(bad)} API request(s) the platform refused for want of the credential the contract "
        f"declares, e.g. {bad[0].line()} ({bad[0].auth.error})",
        expected=f"on every API request: {declared}",
        requests=bad,
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


@check("AUTH-04", pillar="auth", severity="high", level="standard", timeout=60)
def stops_on_revoked_credentials(ctx: CheckContext) -> None:
    """Stops cleanly, with an error, when its credentials are revoked; no retry storm.

    After `check()` succeeds, the platform revokes the connector's client: its tokens, its
    refresh token, its client secret (the API key, the bearer secret, the basic password) are
    refused with 401 (400 invalid_grant for a refresh token) from then on. `sync` must fail with an error (not
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
