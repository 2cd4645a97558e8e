"""Auth checks: how the connector gets and presents its credentials."""

from __future__ import annotations

from harness.checks.context import CheckContext, describe
from harness.checks.registry import check


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
    misplaced = [e for e in log if e.get("auth", {}).get("credential") in ("query", "body")]
    if misplaced:
        where = "query string" if misplaced[0]["auth"]["credential"] == "query" else "request body"
        raise ctx.fail(
            f"sent its access token in the {where} of {len(misplaced)} request(s), e.g. "
            f"{describe(misplaced[0])}",
            expected="the token only in the Authorization header: Authorization: Bearer <token>",
            requests=misplaced,
        )
    token_requests = [e for e in log if e.get("operation") == _token_operation(ctx) and e["status"] == 200]
    api = [e for e in log if e.get("operation") != _token_operation(ctx)]
    if not token_requests:
        raise ctx.fail(
            "never obtained a token from the token endpoint",
            expected=f"POST {tenant.token_url} with grant_type=client_credentials",
            requests=api,
        )
    first_token = token_requests[0]["seq"]
    early = [e for e in api if e["seq"] < first_token]
    unauthenticated = [e for e in api if e.get("auth", {}).get("error") == "missing_token"]
    if early or unauthenticated:
        bad = early or unauthenticated
        raise ctx.fail(
            f"made {len(bad)} API request(s) without a bearer token, e.g. {describe(bad[0])}",
            expected="Authorization: Bearer <token> on every API request",
            requests=bad,
        )


def _token_operation(ctx: CheckContext) -> str | None:
    op = ctx.contract.token_operation
    return op.operation_id if op else None
