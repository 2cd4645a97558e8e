"""AUTH-05 judged from recorded evidence: token reuse passes, a token per request is named."""

from __future__ import annotations

from harness.checks.auth_usage import TOKEN_MARGIN, judge_token_reuse, tokens_allowed
from tests.unit.checks.evidence import authed, log, request, token_request


def run(tokens_at: list[int], api: int) -> list:
    """A log of `api` API requests (seq 1..), with a token request before each seq in tokens_at."""
    out, seq = [], 0
    for i in range(1, api + 1):
        if i in tokens_at:
            seq += 1
            out.append(token_request(seq, time=seq * 0.01))
        seq += 1
        out.append(authed(seq, time=seq * 0.01))
    return out


def test_one_token_per_call_passes():
    # check() and sync(), each its own process, each its own token: 2 of 3 + 1 allowed
    assert judge_token_reuse(log(*run([1, 2], 30)), ttl=3600, calls=2, streams=3) is None


def test_a_token_per_stream_and_one_renewal_pass():
    entries = run([1, 2, 10, 20, 25], 30)  # check, then one per stream of 3, then a renewal
    assert (
        len(log(*entries).token()) == 2 + 3 == tokens_allowed(log(*entries), ttl=3600, calls=2, streams=3) - 1
    )
    assert judge_token_reuse(log(*entries), ttl=3600, calls=2, streams=3) is None


def test_a_token_per_request_is_named_with_the_figures():
    entries = run(list(range(1, 31)), 30)
    finding = judge_token_reuse(log(*entries), ttl=3600, calls=2, streams=3)
    assert finding is not None
    assert "fetched a new token 30 times for 30 API request(s)" in finding.message
    assert "(1.0 API request(s) per token)" in finding.message
    assert "each token lives 3600 s (expires_in)" in finding.message
    assert "POST /oauth/token -> 200 while the previous token had 3600 s left" in finding.message
    assert f"at most {2 + 3 + TOKEN_MARGIN} token request(s)" in finding.expected
    assert finding.details["token_requests"] == 30 and finding.details["allowed"] == 6


def test_the_allowance_grows_with_the_lifetimes_the_sync_spans_on_the_sandbox_clock():
    slow = log(token_request(1, time=0.0), authed(2, time=100.0), authed(3, time=250.0))
    assert tokens_allowed(slow, ttl=60, calls=1, streams=1) == 1 * (1 + 4) + 1 + TOKEN_MARGIN
    # a renewal every minute over a 250 s sync is what the lifetime needs: not a defect
    renewing = log(*(token_request(i, time=i * 60.0) for i in range(5)), authed(9, time=250.0))
    assert judge_token_reuse(renewing, ttl=60, calls=1, streams=1) is None


def test_no_token_endpoint_use_is_not_judged_here():
    assert judge_token_reuse(log(request(1), request(2)), ttl=3600, calls=2, streams=1) is None
    assert judge_token_reuse(log(), ttl=3600, calls=2, streams=1) is None
