"""OBS-01..04 judged from recorded evidence: the connector's log lines and the sandbox's request log."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.checks.observability import (
    SyncLogs,
    judge_error_logged,
    judge_request_ids,
    judge_structured,
    judge_sync_ids,
    log_lines,
)
from harness.connectors import ConnectorFailed
from tests.unit.checks.evidence import TOKEN_OP, log, request

RID = "4f7c0a2e-0d5e-4a55-9d1b-2b8f6c1e9a10"


def sync(
    logs: list[dict[str, Any]] = (),  # type: ignore[assignment]
    stderr: list[str] = (),  # type: ignore[assignment]
    requests: list[Any] = (),  # type: ignore[assignment]
    what: str = "the full sync",
    error: Exception | None = None,
) -> SyncLogs:
    return SyncLogs(what, log_lines(logs, stderr), log(*requests), error)  # type: ignore[arg-type]


def with_id(seq: int, value: str | None = RID, header: str = "x-request-id", **fields: Any) -> Any:
    return request(seq, headers={header: value} if value else {}, **fields)


# -- what counts as a structured line ---------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        '{"event": "page fetched", "level": "info", "sync_id": "a"}',  # structlog's JSONRenderer
        '{"level": 30, "time": 1, "msg": "page fetched"}',  # pino
        '{"levelname": "INFO", "message": "page fetched"}',  # python-json-logger
        '{"time": "t", "level": "INFO", "msg": "page fetched"}',  # Go's slog
        '{"level": "INFO", "fields": {"message": "page fetched"}}',  # Rust's tracing
    ],
)
def test_what_json_logging_libraries_print_is_structured(line: str) -> None:
    (parsed,) = log_lines([], [line])
    assert parsed.fields is not None
    assert judge_structured(sync(stderr=[line])) is None


def test_log_messages_are_structured_and_blank_stderr_lines_are_not_lines() -> None:
    lines = log_lines([{"level": "info", "message": "started"}], ["", "   "])
    assert [line.where for line in lines] == ["log #1"]
    assert lines[0].level == "info"


def test_plain_text_on_stderr_is_named_with_its_line() -> None:
    finding = judge_structured(
        sync(
            [{"level": "info", "message": "started"}],
            ['{"level": "info", "message": "ok"}', "GET /v1/contacts 200"],
        )
    )
    assert finding is not None
    assert "1 of 3 log lines of the full sync as plain text" in finding.message
    assert "stderr line 2: 'GET /v1/contacts 200'" in finding.message


def test_a_json_line_without_a_level_is_not_structured() -> None:
    finding = judge_structured(sync(stderr=['{"message": "page fetched"}']))
    assert finding is not None and "as plain text" in finding.message


def test_a_sync_that_logs_nothing_fails() -> None:
    finding = judge_structured(sync(requests=[request(1)]))
    assert finding is not None and finding.message.startswith("logged nothing during the full sync")


# -- OBS-02: the sync's correlation id -------------------------------------------------------------


def lines_of(sync_id: Any, n: int = 3) -> list[dict[str, Any]]:
    return [{"level": "info", "message": f"line {i}", "sync_id": sync_id} for i in range(n)]


def test_one_id_per_sync_and_a_new_one_each_time_passes() -> None:
    assert judge_sync_ids([sync(lines_of("a")), sync(lines_of("b"), what="the incremental sync")]) is None


def test_a_line_without_the_sync_id_is_named() -> None:
    logs = [*lines_of("a"), {"level": "debug", "message": "request"}]
    finding = judge_sync_ids([sync(logs)])
    assert finding is not None
    assert "1 of 4 log lines of the full sync carry no sync_id" in finding.message
    assert "log #4" in finding.message


def test_an_empty_sync_id_counts_as_none() -> None:
    finding = judge_sync_ids([sync(lines_of(""))])
    assert finding is not None and "carry no sync_id" in finding.message


def test_two_ids_in_one_sync_fail() -> None:
    finding = judge_sync_ids([sync([*lines_of("a"), *lines_of("b")])])
    assert finding is not None and "logged 2 different sync_ids (a, b)" in finding.message


def test_the_same_id_for_two_syncs_fails() -> None:
    finding = judge_sync_ids([sync(lines_of("a")), sync(lines_of("a"), what="the incremental sync")])
    assert finding is not None
    assert "the full sync and the incremental sync logged the same sync_id 'a'" in finding.message


def test_plain_stderr_lines_are_left_to_obs_01() -> None:
    assert judge_sync_ids([sync(lines_of("a"), ["plain text"])]) is None
    finding = judge_sync_ids([sync(stderr=["plain text"])])
    assert finding is not None and "logged no structured line" in finding.message


# -- OBS-03: request ids ---------------------------------------------------------------------------


def request_logs(*ids: str) -> list[dict[str, Any]]:
    return [{"level": "debug", "message": "request", "request_id": i, "sync_id": "a"} for i in ids]


def test_each_request_sent_and_logged_with_its_own_id_passes() -> None:
    requests = [with_id(1, "r1"), with_id(2, "r2", path="/companies", operation="listCompanies")]
    assert judge_request_ids(sync(request_logs("r1", "r2"), requests=requests)) is None


def test_a_request_without_the_header_is_named() -> None:
    requests = [with_id(1, "r1"), with_id(2, None, query={"limit": ["100"]})]
    finding = judge_request_ids(sync(request_logs("r1"), requests=requests))
    assert finding is not None
    assert "sent 1 of 2 API requests of the full sync without a request id" in finding.message
    assert "GET /contacts?limit=100 -> 200" in finding.message


def test_token_requests_need_no_request_id() -> None:
    token = request(1, operation=TOKEN_OP, method="POST", path="/oauth/token")
    assert judge_request_ids(sync(request_logs("r2"), requests=[token, with_id(2, "r2")])) is None


def test_one_id_for_different_requests_correlates_nothing() -> None:
    requests = [with_id(1, "same"), with_id(2, "same", path="/companies", operation="listCompanies")]
    finding = judge_request_ids(sync(request_logs("same"), requests=requests))
    assert (
        finding is not None and "sent the same request id 'same' on 2 different requests" in finding.message
    )


def test_a_retry_may_repeat_its_own_id() -> None:
    requests = [with_id(1, "r1", status=503), with_id(2, "r1")]
    assert judge_request_ids(sync(request_logs("r1"), requests=requests)) is None


def test_an_id_in_no_log_line_is_named() -> None:
    requests = [with_id(1, "r1"), with_id(2, "r2", path="/companies", operation="listCompanies")]
    finding = judge_request_ids(sync(request_logs("r1"), requests=requests))
    assert finding is not None
    assert "1 of 2 request ids of the full sync appear in no log line" in finding.message
    assert "x-request-id r2 of GET /companies -> 200" in finding.message


def test_a_traceparent_is_logged_by_its_span_id() -> None:
    trace, span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    entry = with_id(1, f"00-{trace}-{span}-01", header="traceparent")
    logged = [{"level": "debug", "message": "request", "span_id": span}]
    assert judge_request_ids(sync(logged, requests=[entry])) is None
    other = [{"level": "debug", "message": "request", "span_id": "1111111111111111", "trace_id": trace}]
    assert judge_request_ids(sync(other, requests=[entry])) is not None


def test_an_id_in_a_plain_text_line_still_correlates() -> None:
    assert judge_request_ids(sync(stderr=["GET /contacts 200 (r1)"], requests=[with_id(1, "r1")])) is None


# -- OBS-04: an error logged with its cause --------------------------------------------------------


REFUSED = [
    request(1, 401, operation=TOKEN_OP, method="POST", path="/oauth/token"),
]
FAILED = ConnectorFailed("sync(state)", RuntimeError("the token endpoint refused the credentials"))


def error_line(**fields: Any) -> dict[str, Any]:
    return {"level": "error", "message": "sync failed", "sync_id": "a", **fields}


def test_an_error_line_naming_status_and_path_passes() -> None:
    logs = [error_line(request="POST /t/abc/oauth/token -> 401")]
    assert judge_error_logged(sync(logs, requests=REFUSED, error=FAILED)) is None


def test_the_operation_id_names_the_operation_too() -> None:
    logs = [error_line(status=401, operation=TOKEN_OP)]
    assert judge_error_logged(sync(logs, requests=REFUSED, error=FAILED)) is None


def test_pino_levels_of_50_and_up_are_errors() -> None:
    stderr = [json.dumps({"level": 50, "msg": "sync failed", "err": "POST /oauth/token -> 401"})]
    assert judge_error_logged(sync(stderr=stderr, requests=REFUSED, error=FAILED)) is None
    stderr = [json.dumps({"level": 40, "msg": "sync failed", "err": "POST /oauth/token -> 401"})]
    assert judge_error_logged(sync(stderr=stderr, requests=REFUSED, error=FAILED)) is not None


def test_no_error_line_fails_and_points_at_a_plain_text_mention() -> None:
    logs = [{"level": "debug", "message": "request", "request": "POST /oauth/token -> 401"}]
    finding = judge_error_logged(sync(logs, ["error: token refused (401)"], REFUSED, error=FAILED))
    assert finding is not None
    assert finding.message.startswith(
        "logged no error-level line although POST /oauth/token -> 401 refused it"
    )
    assert "only a plain-text line mentions it: stderr line 1" in finding.message


def test_a_swallowed_failure_is_still_judged_by_its_logs() -> None:
    finding = judge_error_logged(sync(requests=REFUSED))
    assert finding is not None and "returned normally" in finding.message


def test_an_error_line_without_the_cause_fails() -> None:
    finding = judge_error_logged(
        sync([error_line(error="AuthenticationError")], requests=REFUSED, error=FAILED)
    )
    assert finding is not None
    assert (
        "none names a refused request's status and operation (e.g. 401 and /oauth/token)" in finding.message
    )


def test_a_status_inside_a_longer_number_does_not_count() -> None:
    logs = [error_line(request="POST /oauth/token", took_ms=14012)]
    assert judge_error_logged(sync(logs, requests=REFUSED, error=FAILED)) is not None


def test_nothing_refused_is_said() -> None:
    finding = judge_error_logged(sync([error_line()], requests=[request(1)]))
    assert finding is not None and "had no request refused" in finding.message
