"""AUTH-05: how the connector uses its credentials over a sync, judged from the sandbox's log."""

from __future__ import annotations

from harness.checks.context import CheckContext, RunError
from harness.checks.failures import Finding
from harness.checks.registry import check
from harness.core import RequestLog

TOKEN_TTL = 3600  # seconds: the expires_in of this scenario's tokens (a common real lifetime)
PAGES_PER_STREAM = 5  # list requests per stream at the largest page size: enough to tell reuse apart
TOKEN_MARGIN = 1  # token requests allowed beyond the need: one renewal after a refused token


@check("AUTH-05", pillar="auth", severity="medium", level="standard", requires=("expiring_tokens",))
def reuses_tokens(ctx: CheckContext) -> None:
    """Reuses each access token until it nears its `expires_in`, instead of a token per request.

    The connector runs `check()` and a full sync of several pages per stream with tokens that
    live an hour. Every token request costs the platform a credential check (often a slow,
    rate-limited one) and leaves one more live token to leak. A connector may fetch one token
    for each call (`check`, `sync`: a command connector is a new process each time) and each
    token lifetime the sync spans on the sandbox's clock, one more per stream (a stream synced
    in parallel may take its own) and one more (a renewal after a refused token); more than
    that is a token per request or per page.
    """
    sizes = {stream: ctx.pages(stream, PAGES_PER_STREAM) for stream in ctx.manifest.streams}
    tenant = ctx.tenant(sizes, token_ttl=TOKEN_TTL, purpose="token-use")
    run = ctx.sync(tenant)
    ctx.require(
        judge_token_reuse(
            run.requests, ttl=TOKEN_TTL, calls=2, streams=len(ctx.manifest.streams), error=run.error
        )
    )


def tokens_allowed(log: RequestLog, *, ttl: float, calls: int, streams: int) -> int:
    """calls x (1 + the token lifetimes the log spans, on the sandbox's timeline) + streams +
    TOKEN_MARGIN; a slower machine spans more of a lifetime, never fewer tokens."""
    span = (max(e.responded for e in log) - min(e.time for e in log)) if log else 0.0
    return calls * (1 + int(span // ttl)) + streams + TOKEN_MARGIN


def judge_token_reuse(
    log: RequestLog, *, ttl: float, calls: int, streams: int, error: RunError | None = None
) -> Finding | None:
    """Token requests over the whole run against `tokens_allowed`; nothing to judge when the
    connector never asked the token endpoint (AUTH-01 owns that)."""
    tokens = log.token()
    if not tokens:
        return None
    allowed = tokens_allowed(log, ttl=ttl, calls=calls, streams=streams)
    if len(tokens) <= allowed:
        return None
    api = log.api()
    span = max(e.responded for e in log) - min(e.time for e in log)
    between = [e for e in api if e.seq > tokens[0].seq and e.seq < tokens[-1].seq]
    per_token = len(between) / max(1, len(tokens) - 1)
    first = tokens[1]
    return Finding.of(
        f"fetched a new token {len(tokens)} times for {len(api)} API request(s) "
        f"({per_token:.1f} API request(s) per token) in {span:.1f} s of the sandbox's clock, "
        f"though each token lives {ttl:g} s (expires_in); e.g. {first.line()} while the "
        f"previous token had {ttl - (first.time - tokens[0].time):.0f} s left",
        expected=(
            f"reuse each access token until it nears expires_in: at most {allowed} token request(s) "
            f"here ({calls} call(s) x 1 lifetime, {streams} stream(s), {TOKEN_MARGIN} renewal)"
        ),
        requests=tokens[:10],
        token_requests=len(tokens),
        api_requests=len(api),
        allowed=allowed,
        run_error=str(error) if error else None,
    )
