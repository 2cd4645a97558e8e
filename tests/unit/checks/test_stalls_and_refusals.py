"""RES-05 (stalls), RES-06 (client errors on reads and writes) and exactly-once under faults, judged
from recorded evidence: the clean pattern passes, each defect is named."""

from __future__ import annotations

from harness.checks.refusals import documented, judge_client_error_retried
from harness.checks.resilience import judge_written_once
from harness.checks.stalls import judge_client_timeout, judge_stall_retried, judge_stalls_fired
from harness.connectors import ConnectorFailed, ConnectorTimeout
from harness.contract import default_contract_path, load
from tests.unit.checks.evidence import log, replica_op, request

STALL = 30.0


def page(seq: int, time: float, *, cursor: str = "", **kw):
    return request(seq, time=time, query={"cursor": [cursor]} if cursor else {}, **kw)


def held(seq: int, time: float, seconds: float, *, abandoned: bool, kind: str = "stall", cursor: str = "b"):
    """A list request the sandbox held under a stall (or trickle) fault for `seconds`."""
    return page(seq, time, cursor=cursor, faults=[kind], held_ms=seconds * 1000, abandoned=abandoned)


# -- RES-05 ----------------------------------------------------------------------------------------


def test_a_timeout_that_abandons_the_stall_and_a_retry_pass() -> None:
    """acme_sync's timeline: a 15 s read timeout, then the retry of the same page."""
    api = log(page(1, 0.0), held(2, 0.1, 15.0, abandoned=True), page(3, 15.4, cursor="b"))
    assert judge_stalls_fired(api, None) is None
    assert judge_client_timeout(api, STALL) is None
    assert judge_stall_retried(api, None) is None


def test_waiting_out_a_stall_names_the_missing_client_timeout_and_how_long_it_waited() -> None:
    """flawed no_client_timeout: httpx.Client(timeout=None) waits the whole stall, then carries on."""
    api = log(page(1, 0.0), held(2, 0.1, 30.0, abandoned=False), page(3, 30.2, cursor="c"))
    finding = judge_client_timeout(api, STALL)
    assert finding is not None
    assert finding.message.startswith("has no client timeout: waited 30.0 s for GET /contacts?cursor=b")
    assert "nothing sent" in finding.message and "under 30 s" in finding.expected


def test_a_trickle_waited_out_is_named_as_one() -> None:
    api = log(held(1, 0.0, 30.0, abandoned=False, kind="trickle"))
    finding = judge_client_timeout(api, STALL)
    assert finding is not None and "the headers and half the body sent, then nothing" in finding.message


def test_the_verdict_is_the_sandboxs_record_of_the_connection_not_the_clock() -> None:
    """A loaded machine: the connector's 15 s timeout fired late, at 29 s; it still gave up first."""
    assert judge_client_timeout(log(held(1, 0.0, 29.0, abandoned=True)), STALL) is None


def test_an_abandoned_request_never_sent_again_is_named() -> None:
    api = log(
        page(1, 0.0), held(2, 0.1, 15.0, abandoned=True), page(3, 15.2, cursor="zz", operation="listDeals")
    )
    finding = judge_stall_retried(api, ConnectorFailed("sync(None)", RuntimeError("ReadTimeout")))
    assert (
        finding is not None and "never sent it again" in finding.message and "ReadTimeout" in finding.message
    )


def test_giving_up_after_the_timeout_fails_the_sync_and_is_named() -> None:
    api = log(held(1, 0.0, 15.0, abandoned=True), page(2, 15.2, cursor="b", status=500))
    finding = judge_stall_retried(api, ConnectorFailed("sync(None)", RuntimeError("gave up")))
    assert finding is not None and finding.message.startswith("gave up instead of finishing")


def test_no_stalled_request_means_too_few_requests() -> None:
    finding = judge_stalls_fired(log(page(1, 0.0)), None)
    assert finding is not None and "too few list requests" in finding.message


# -- RES-06 ----------------------------------------------------------------------------------------


def create(seq: int, status: int):
    return request(seq, status, operation="createContact", method="POST", path="/contacts")


def test_one_refused_write_and_a_clear_failure_pass() -> None:
    error = ConnectorFailed("push", RuntimeError("POST /contacts failed with HTTP 409"))
    assert judge_client_error_retried(log(create(1, 409)), "createContact", 409, "write", error) is None


def test_a_second_attempt_is_tolerated() -> None:
    assert (
        judge_client_error_retried(log(create(1, 422), create(2, 422)), "createContact", 422, "write", None)
        is None
    )


def test_a_write_retried_on_a_4xx_is_named_by_status_and_count() -> None:
    """flawed retries_every_4xx_on_writes: five attempts at a 400."""
    calls = log(*(create(i, 400) for i in range(1, 6)))
    finding = judge_client_error_retried(calls, "createContact", 400, "write", None)
    assert finding is not None
    assert finding.message.startswith(
        "retried a non-retryable 400 on a write: sent 5 requests to createContact"
    )
    assert finding.details["attempts"] == 5


def test_a_read_retried_until_the_call_limit_says_so() -> None:
    calls = log(*(request(i, 404) for i in range(1, 9)))
    finding = judge_client_error_retried(
        calls, "listContacts", 404, "read", ConnectorTimeout("sync(None)", 15)
    )
    assert (
        finding is not None
        and "on a read" in finding.message
        and "did not stop within 15 s" in finding.message
    )


def test_a_run_that_never_sent_the_refused_operation_proves_nothing_and_says_so() -> None:
    finding = judge_client_error_retried(
        log(request(1, operation="listDeals")), "listContacts", 400, "read", None
    )
    assert finding is not None and finding.message.startswith("never sent listContacts")


def test_the_statuses_provoked_are_those_the_operation_documents() -> None:
    contract = load(default_contract_path())
    assert documented(contract.operation("listContacts")) == [400, 403]
    assert documented(contract.operation("createContact")) == [400, 403, 409, 422]


# -- exactly once under faults -----------------------------------------------------------------------


def test_each_record_written_once_passes() -> None:
    ops = [replica_op("upsert", f"con_{i}") for i in range(5)]
    assert judge_written_once(ops, []) is None


def test_a_page_stored_again_after_a_retry_is_a_duplicate_though_the_replica_looks_right() -> None:
    """flawed stores_retried_page_twice: upserts by id hide it in the final rows."""
    first = [replica_op("upsert", f"con_{i}") for i in range(3)]
    ops = [*first, *first, replica_op("upsert", "con_9")]
    finding = judge_written_once(ops, [request(4, 500)])
    assert finding is not None
    assert finding.message.startswith("wrote records to the sink more than once: 3 record(s) of contacts")
    assert "contacts con_0: upsert 2 times" in finding.message
    assert finding.details["written_twice"] == 3


def test_the_same_id_in_two_streams_is_two_records() -> None:
    ops = [replica_op("upsert", "x_1", "contacts"), replica_op("upsert", "x_1", "deals")]
    assert judge_written_once(ops, []) is None
