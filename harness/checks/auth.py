"""AUTH-01: the connector authenticates as the contract declares, its credential only where it
belongs. (Least privilege, AUTH-02, is in scopes.py; expiry, AUTH-03, in auth_expiry.py;
revocation, AUTH-04, in auth_revoked.py; credential use over a sync, AUTH-05, in auth_usage.py.)"""

from __future__ import annotations

from collections.abc import Collection

from harness.checks.auth_schemes import GRANT_EXPECTED, Scheme, declared_schemes
from harness.checks.context import CheckContext, RunError
from harness.checks.failures import Finding
from harness.checks.registry import check
from harness.core import RequestLog

__all__ = ["GRANT_EXPECTED", "Scheme", "declared_schemes"]


@check("AUTH-01", pillar="auth", severity="critical", requires=("credentials",), judges_requests=True)
def authenticates_as_declared(ctx: CheckContext) -> None:
    """Authenticates as the contract declares, sending each credential only where it belongs.

    OAuth2: a token from the token endpoint (client credentials, or the refresh token the
    harness hands over for an authorization code flow), then only `Authorization: Bearer`.
    A static bearer token, an HTTP basic pair or an API key goes exactly where the contract's
    scheme says (an API key only in its declared header, query parameter or cookie). A
    credential in a query string or a body the contract does not put it in ends up in proxy logs,
    browser history and analytics; the platform refuses it. mutualTLS: the client certificate
    (`client_cert`, `client_key`) on every connection, the platform trusted from `ca_bundle`.
    """
    tenant = ctx.tenant()
    run = ctx.sync(tenant)
    front = ctx.fronts.front(tenant)  # mutualTLS: the tenant's client-certificate front
    public = {op.operation_id for op in ctx.contract.operations if op.public}
    called = {e.operation for e in run.requests.api()} | {ctx.list_op(s) for s in ctx.manifest.streams}
    names = [
        n for op in ctx.contract.operations if op.operation_id in called for req in op.security for n in req
    ]
    schemes = declared_schemes(ctx.contract.security_schemes, names)
    if front is not None:
        ctx.require(judge_client_certificate(front.handshakes, front.refused, run.requests, schemes))
    ctx.require(judge_made_requests(run.requests, run.error))
    ctx.require(judge_token_placement(run.requests, schemes))
    ctx.require(judge_grant_declared(run.requests, schemes))
    ctx.require(judge_token_obtained(run.requests, tenant.token_url, schemes))
    if not schemes or all(s.oauth2 for s in schemes):
        ctx.require(judge_bearer_on_api(run.requests, public))
    else:
        ctx.require(judge_credentials_on_api(run.requests, schemes))


def judge_client_certificate(
    handshakes: int, refused: int, log: RequestLog, schemes: Collection[Scheme]
) -> Finding | None:
    """On a mutualTLS contract every API request comes over a connection whose client certificate
    the front verified: a refused handshake (no or a wrong certificate) is the defect, and so is
    a credential the contract does not declare sent beside the certificate."""
    if not any(s.kind == "mutual_tls" for s in schemes):
        return None
    declared = "; or ".join(s.phrase() for s in schemes)
    if refused:
        return Finding.of(
            f"connected without a valid TLS client certificate: {refused} handshake(s) refused by the "
            f"platform ({handshakes} completed), so its requests never reached the API",
            expected=f"the client certificate on every connection: {declared} "
            '(httpx: cert=(config["client_cert"], config["client_key"]), verify=config["ca_bundle"])',
            handshakes_refused=refused,
            handshakes_accepted=handshakes,
        )
    header_schemes = {s.kind for s in schemes} - {"mutual_tls"}
    extra = [e for e in log.api() if not header_schemes and "authorization" in e.headers]
    if extra:
        return Finding.of(
            f"sent an Authorization header the contract does not declare on {len(extra)} request(s), "
            f"e.g. {extra[0].line()}",
            expected=f"only the credential the contract declares: {declared}",
            requests=extra,
        )
    bad = list(log.api().auth_error("missing_client_certificate"))
    if bad:
        return Finding.of(
            f"made {len(bad)} API request(s) without a verified client certificate, e.g. {bad[0].line()}",
            expected=f"on every API request: {declared}",
            requests=bad,
        )
    return None


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
    names = {s.credential for s in schemes}
    label = names.pop() if len(names) == 1 else "credential"
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
