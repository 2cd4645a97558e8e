"""AUTH-04: revoked credentials stop the sync with an error, without a retry storm."""

from __future__ import annotations

import time
from collections import Counter

from harness.checks.context import REVOKED_CALL_TIMEOUT, CheckContext, RunError
from harness.checks.failures import Finding
from harness.checks.registry import check
from harness.connectors import ConnectorFailed, ConnectorTimeout
from harness.core import RequestLog

MAX_ATTEMPTS_AFTER_REVOCATION = 5  # token + API requests once the client is revoked
PER_PARALLEL_OPERATION = 2  # more allowed per further operation tried: its first attempt and one renewal


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
