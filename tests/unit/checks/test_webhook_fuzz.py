"""WH-04's judgement of one fuzzed delivery, and how a schemathesis case becomes a request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.checks.webhook_fuzz import SIGNED, UNSIGNED, judge_answer, prepare

EVENTS = ["contact.created", "contact.deleted"]


def answer(
    outcome: int | str, stderr: str | None = None, payload: bytes = b'{"type": "x"}', **kw: Any
) -> Any:
    return judge_answer(outcome, stderr, how=SIGNED, payload=payload, delivery=3, events=EVENTS, **kw)


def test_answers_below_500_pass() -> None:
    assert answer(200) is None
    assert answer(204) is None
    assert answer(400) is None
    assert answer(422) is None


def test_a_crash_fails_with_the_body_and_the_delivery() -> None:
    finding = answer("crashed (handle_webhook(headers, body) raised KeyError: 'x')", case="a coverage case")
    assert finding is not None
    assert finding.message == (
        "crashed (handle_webhook(headers, body) raised KeyError: 'x') on a correctly signed delivery whose "
        'body was \'{"type": "x"}\' (a coverage case); delivery 3 of the fuzz over contact.created, '
        "contact.deleted"
    )
    assert "never a 5xx" in finding.expected


def test_a_5xx_fails_with_the_last_line_of_stderr() -> None:
    finding = answer(500, "Traceback: ZeroDivisionError")
    assert finding is not None
    assert finding.message.startswith(
        "answered 500 (stderr: Traceback: ZeroDivisionError) on a correctly signed"
    )


def test_a_long_body_is_cut() -> None:
    finding = judge_answer(503, None, how=UNSIGNED, payload=b"a" * 400, delivery=1, events=EVENTS)
    assert finding is not None
    assert f"whose body was '{'a' * 300}...'" in finding.message
    assert "a delivery with generated (unsigned) headers" in finding.message


@dataclass
class Case:
    body: Any
    headers: dict[str, Any] = field(default_factory=dict)
    media_type: str | None = None


def test_a_signed_case_keeps_only_its_content_type() -> None:
    prepared = prepare(Case({"type": "x"}, {"webhook-id": "msg_0"}), False)
    assert prepared == ({"content-type": "application/json"}, b'{"type": "x"}', False)


def test_an_unsigned_case_keeps_the_headers_it_was_generated_with() -> None:
    prepared = prepare(Case(b"\x00", {"webhook-id": 5}, "text/plain"), True)
    assert prepared == ({"webhook-id": "5", "content-type": "text/plain"}, b"\x00", True)


def test_cases_that_cannot_be_sent_as_http_are_left_out() -> None:
    assert prepare(Case(float("nan")), False) is None
    assert prepare(Case({"a": 1}, {"x": "caf\u00e9\u4e2d"}), True) is None
    assert prepare(Case({"a": 1}, {"x": "a\r\nb"}), True) is None
    assert prepare(Case(None), False) == ({"content-type": "application/json"}, b"", False)
