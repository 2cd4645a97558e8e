"""RES-01, RES-02 and RES-03 judged from recorded request logs: clean patterns pass, defects are named."""

from __future__ import annotations

from harness.checks.refusals import judge_refusal_reported, judge_refused_attempts
from harness.checks.resilience import (
    judge_backoff,
    judge_rate_limited_run,
    judge_request_count,
    judge_retry_after,
    judge_transient_run,
)
from harness.connectors import ConnectorFailed, ConnectorTimeout
from tests.unit.checks.evidence import log, request

PAGE = "listContacts"


def page(
    seq: int, time: float, status: int = 200, *, op: str = PAGE, cursor: str = "", ms: float = 5.0, **kw
):
    """One list request of `op` (its cursor in the query) that the sandbox took `ms` to answer."""
    query = {"cursor": [cursor]} if cursor else {}
    return request(seq, status, time=time, operation=op, query=query, latency_ms=ms, **kw)


# -- RES-01 ----------------------------------------------------------------------------------------


def test_a_retry_after_the_wait_passes() -> None:
    api = log(
        page(1, 0.0), page(2, 0.1, 429, cursor="b"), page(3, 1.2, 429, cursor="b"), page(4, 2.3, cursor="b")
    )
    assert judge_retry_after(api, 1) is None


def test_parallel_streams_are_not_blamed_for_another_streams_429() -> None:
    """async_parallel's timeline: the 429 on listContacts was answered at 0.360 s; listCompanies and
    listDeals pages already on their way arrive after it, the listContacts retry 1.04 s later."""
    api = log(
        page(10, 0.355, 429, cursor="c2"),
        page(11, 0.373, op="listCompanies", cursor="m2"),
        page(12, 0.424, op="listDeals", cursor="d2"),
        page(13, 1.399, cursor="c2"),
    )
    assert judge_retry_after(api, 1) is None


def test_a_request_already_sent_when_the_429_was_answered_is_not_its_retry() -> None:
    """Two pages of one operation in flight: the second arrived while the 429 was being answered."""
    api = log(page(1, 0.100, 429, cursor="a", ms=20), page(2, 0.110, cursor="b"), page(3, 1.2, cursor="a"))
    assert judge_retry_after(api, 1) is None


def test_a_retry_50_ms_after_a_429_ignores_retry_after() -> None:
    """flawed ignores_retry_after: a fixed 50 ms wait after every 429."""
    api = log(
        page(1, 0.0),
        page(2, 0.1, 429, cursor="b", ms=2),
        page(3, 0.152, 429, cursor="b"),
        page(4, 1.3, cursor="b"),
    )
    finding = judge_retry_after(api, 1)
    assert finding is not None
    assert "ignored Retry-After" in finding.message
    assert "1 of 2 429(s)" in finding.message and "0.050 s after a 429" in finding.message
    assert finding.details["gaps"] == [0.05]


def test_an_early_retry_is_caught_among_parallel_streams() -> None:
    api = log(
        page(1, 0.30, 429, cursor="c2"),
        page(2, 0.32, op="listCompanies", cursor="m2"),
        page(3, 0.40, cursor="c2"),
    )
    finding = judge_retry_after(api, 1)
    assert finding is not None and "GET /contacts?cursor=c2 -> 200 0.095 s after" in finding.message


def test_the_rate_limited_run_must_finish_and_see_its_429s() -> None:
    failed = ConnectorFailed("sync", RuntimeError("429 Too Many Requests"))
    refused = log(page(1, 0.0), page(2, 0.1, 429, cursor="b"))
    finding = judge_rate_limited_run(refused, failed, PAGE, "150 contacts records")
    assert finding is not None and "did not finish after 1 429 response(s)" in finding.message
    finding = judge_rate_limited_run(log(page(1, 0.0)), None, PAGE, "150 contacts records")
    assert finding is not None and "made no second request to listContacts" in finding.message
    assert judge_rate_limited_run(refused, None, PAGE, "150 contacts records") is None


def test_a_request_storm_is_counted() -> None:
    calm = log(page(1, 0.0), page(2, 0.1, 429, cursor="b"), page(3, 1.2, cursor="b"))
    assert judge_request_count(calm) is None
    storm = log(
        page(1, 0.0), *(page(n, n / 10, 429, cursor="b") for n in range(2, 12)), page(12, 2, cursor="b")
    )
    storm_with_repeats = log(*storm, *(page(n, n, cursor="b") for n in range(13, 18)))
    finding = judge_request_count(storm_with_repeats)
    assert (
        finding is not None and "it repeats requests (e.g. listContacts cursor=b 16 times)" in finding.message
    )


# -- RES-02 ----------------------------------------------------------------------------------------


def test_urllib3_retry_an_immediate_first_retry_then_backoff_passes() -> None:
    """requests_retry (urllib3 Retry, backoff_factor=0.5): a 500 twice in a row is retried at once,
    then 1 s later."""
    api = log(page(1, 0.0, 500), page(2, 0.006, 500), page(3, 1.01), page(4, 1.02, cursor="b"))
    assert judge_backoff(api) is None


def test_one_immediate_retry_that_succeeds_passes() -> None:
    api = log(
        page(1, 0.0, 503),
        page(2, 0.007),
        page(3, 0.02, cursor="b", faults=["drop"]),
        page(4, 0.03, cursor="b"),
    )
    assert judge_backoff(api) is None


def test_exponential_backoff_with_jitter_passes() -> None:
    api = log(
        page(1, 0.0, 502), page(2, 0.3, 502), page(3, 0.9), page(4, 1.0, cursor="b", faults=["truncate"])
    )
    assert judge_backoff(api) is None


def test_immediate_retries_in_a_row_are_no_backoff() -> None:
    """flawed retries_without_backoff: every retry at once, so the second one in a row is flagged."""
    api = log(page(1, 0.0, 500), page(2, 0.006, 500), page(3, 0.012), page(4, 0.02, cursor="b"))
    finding = judge_backoff(api)
    assert finding is not None
    assert "retried without backoff: 1 of 2 failed request(s)" in finding.message
    assert "GET /contacts -> 500, retried 1 ms later" in finding.message
    assert [r.seq for r in finding.requests] == [2, 3]


def test_a_wait_measured_from_when_the_failure_was_answered() -> None:
    """A slow failure (300 ms to answer) then an instant retry, twice: the gap is from the answer."""
    api = log(page(1, 0.0, 503, ms=300), page(2, 0.31, 503, ms=300), page(3, 0.62))
    finding = judge_backoff(api)
    assert finding is not None and "retried 10 ms later" in finding.message


def test_the_transient_run_must_finish_and_see_failures() -> None:
    sizes = {"contacts": 300}
    failed = ConnectorFailed("sync", RuntimeError("HTTP 500"))
    finding = judge_transient_run(log(page(1, 0.0, 500)), failed, sizes)
    assert finding is not None and "gave up instead of retrying" in finding.message
    assert "the last GET /contacts -> 500" in finding.message
    finding = judge_transient_run(log(page(1, 0.0)), None, sizes)
    assert (
        finding is not None
        and "too few list requests" in finding.message
        and "contacts: 300" in finding.expected
    )
    assert judge_transient_run(log(page(1, 0.0, 500), page(2, 0.5)), None, sizes) is None


# -- RES-03 ----------------------------------------------------------------------------------------

DEALS = "listDeals"


def deals(seq: int, status: int = 403) -> object:
    return request(seq, status, time=seq / 10, operation=DEALS, path="/deals")


def test_stopping_after_one_refusal_with_a_clear_error_passes() -> None:
    calls = log(page(1, 0.0), deals(2))
    error = ConnectorFailed("sync", RuntimeError("GET /deals failed with HTTP 403"))
    assert judge_refused_attempts(calls, error, DEALS, "deals:read", "deals", 15) is None
    assert judge_refusal_reported(calls.to(DEALS), error, "deals", 15) is None


def test_retrying_a_403_is_named() -> None:
    """flawed retries_client_errors: every error status treated as transient."""
    calls = log(page(1, 0.0), *(deals(n) for n in range(2, 7)))
    error = ConnectorFailed("sync", RuntimeError("HTTP 403"))
    finding = judge_refused_attempts(calls, error, DEALS, "deals:read", "deals", 15)
    assert finding is not None
    assert "retried a non-retryable error: sent 5 requests to listDeals (403 x5)" in finding.message
    assert finding.details["attempts"] == 5


def test_never_reaching_the_refused_operation_is_named() -> None:
    finding = judge_refused_attempts(log(page(1, 0.0)), None, DEALS, "deals:read", "deals", 15)
    assert finding is not None and "never requested listDeals without the deals:read scope" in finding.message


def test_a_refusal_must_end_the_sync_with_an_error_that_names_it() -> None:
    calls = log(deals(1))
    hung = judge_refusal_reported(calls, ConnectorTimeout("sync", 15), "deals", 15)
    assert hung is not None and "hung after GET /deals -> 403" in hung.message
    silent = judge_refusal_reported(calls, None, "deals", 15)
    assert silent is not None and "sync reported success although GET /deals -> 403" in silent.message
    vague = judge_refusal_reported(calls, ConnectorFailed("sync", RuntimeError("oops")), "deals", 15)
    assert vague is not None and "failed without saying why" in vague.message
