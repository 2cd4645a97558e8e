"""The evidence layer: the request log's queries, faults as the sandbox's rules, the one signer."""

from __future__ import annotations

import json

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from harness.core import CpuWaits, Fault, LoggedRequest, PeakMemory, last_kinds, new_secret, sign, tamper
from tests.unit.checks.evidence import TOKEN_OP, change, log, request


def test_a_logged_request_reads_as_one_line_with_its_masked_query():
    entry = request(3, 400, query={"limit": ["1000"], "token": ["at_1****"]})
    assert entry.line() == "GET /contacts?limit=1000&token=at_1**** -> 400"
    assert request(1).line() == "GET /contacts -> 200"


def test_the_report_summary_leaves_out_what_says_nothing():
    entry = request(2, 403, auth={"credential": "header", "scopes": ["a"], "error": "insufficient_scope"})
    assert entry.summary() == {
        "seq": 2,
        "method": "GET",
        "path": "/contacts",
        "status": 403,
        "operation": "listContacts",
        "auth": {"credential": "header", "scopes": ["a"], "error": "insufficient_scope"},
    }


def test_unknown_fields_from_a_newer_sandbox_are_ignored():
    entry = LoggedRequest.from_json(
        {"seq": 1, "time": 0, "method": "GET", "path": "/", "status": 200, "new": 1}
    )
    assert entry.operation is None and entry.auth.error is None


def test_request_log_queries_chain_and_keep_the_token_operation():
    entries = log(
        request(1, operation=TOKEN_OP, method="POST", path="/oauth/token"),
        request(2, 429),
        request(3),
        request(4, 500, operation="listCompanies", faults=["drop"]),
    )
    assert [e.seq for e in entries.api()] == [2, 3, 4]
    assert [e.seq for e in entries.token()] == [1]
    assert [e.seq for e in entries.api().to("listContacts").status(429)] == [2]
    assert [e.seq for e in entries.since(2).failed()] == [4]
    assert [e.seq for e in entries.faulted("drop", "truncate")] == [4]
    assert entries.next_after(entries[1]) is entries[2]
    assert entries.last_seq == 4 and log().last_seq == 0
    assert entries[1:].token_operation == TOKEN_OP


def test_a_retry_repeats_the_target_whatever_the_order_of_its_query():
    first = request(1, query={"b": ["2"], "a": ["1"]})
    again = request(2, query={"a": ["1"], "b": ["2"]})
    assert first.target == again.target == ("listContacts", "a=1&b=2")
    assert request(3, operation=None, method="POST", path="/x").target == ("POST /x", "")


def test_faults_are_sent_as_the_sandbox_rules_their_kind_uses():
    assert Fault.rate_limited(1, "listContacts", after=1, times=2).to_json() == {
        "kind": "status",
        "operation": "listContacts",
        "after": 1,
        "times": 2,
        "status": 429,
        "retry_after": 1,
    }
    assert Fault.churning(10, "op").to_json()["churn"] == 10
    assert Fault.error_after_commit(502, "op").kind == "status_after"
    echoed = {**Fault.slow(400, "op").to_json(), "seen": 3, "fired": 1, "status": 503, "retry_after": 1}
    assert Fault.from_json(echoed) == Fault.slow(400, "op")


def test_a_record_created_then_updated_is_still_new_to_a_replica():
    kinds = last_kinds([change(1, "created", "c1"), change(2, "updated", "c1"), change(3, "updated", "c2")])
    assert kinds == {"contacts": {"c1": "created", "c2": "updated"}}
    assert last_kinds([change(1, "updated", "c1"), change(2, "deleted", "c1")]) == {
        "contacts": {"c1": "deleted"}
    }


def test_the_signer_agrees_with_the_standard_webhooks_library():
    secret, payload = new_secret(), json.dumps({"type": "contact.created"}).encode()
    headers = sign(secret, payload, msg_id="msg_1")
    assert Webhook(secret).verify(payload, headers) == {"type": "contact.created"}
    for kind in ("bad_signature", "wrong_secret", "stale_timestamp", "missing_signature"):
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(payload, tamper(kind, secret, payload))


def test_a_body_that_is_not_utf8_is_signed_over_its_bytes():
    secret = new_secret()
    headers = sign(secret, b"\xff\xfe", msg_id="msg_2", timestamp=1_700_000_000)
    again = sign(secret, b"\xff\xfe", msg_id="msg_2", timestamp=1_700_000_000)
    assert headers == again and headers["webhook-signature"].startswith("v1,")
    assert sign(secret, b"\xff\xff", msg_id="msg_2", timestamp=1_700_000_000) != headers


def test_cpu_waits_interpolate_and_never_exceed_the_clock() -> None:
    waits = CpuWaits.of([(2.0, 0.5), (1.0, 0.0), (3.0, 0.4)])  # out of order, one reading lower
    assert waits.samples == ((1.0, 0.0), (2.0, 0.5), (3.0, 0.5))  # cumulative: never decreases
    assert waits.at(0.0) == 0.0 and waits.at(1.5) == 0.25 and waits.at(9.0) == 0.5
    assert waits.during(1.0, 1.5) == 0.25
    # two threads queued at once sum to more than the clock: capped at the interval
    assert CpuWaits.of([(0.0, 0.0), (1.0, 2.0)]).during(0.0, 1.0) == 1.0
    assert waits.outside([(1.0, 1.5)], until=2.0) == 0.25
    assert not CpuWaits() and CpuWaits().outside([(0.0, 1.0)], until=5.0) == 0.0


def test_peak_memory_is_a_high_water_mark_read_at_a_moment() -> None:
    memory = PeakMemory.of([(2.0, 500), (1.0, 100), (3.0, 400), (4.0, 900)])  # out of order, one lower
    assert memory.samples == ((1.0, 100), (2.0, 500), (3.0, 500), (4.0, 900))
    assert memory.peak_kib == 900
    assert memory.at(0.5) == 100  # before any reading: the first
    assert memory.at(2.0) == 500 and memory.at(2.9) == 500  # the last reading at or before
    assert memory.rise_after(2.5) == 400 and memory.rise_after(9.0) == 0
    assert not PeakMemory() and PeakMemory().peak_kib == 0 and PeakMemory().at(1.0) == 0


def test_two_wait_timelines_add_up_at_every_moment_either_was_sampled() -> None:
    connector = CpuWaits.of([(0.0, 0.0), (2.0, 1.0)])
    platform = CpuWaits.of([(1.0, 0.0), (3.0, 0.5)])
    both = connector.plus(platform)
    assert [t for t, _ in both.samples] == [0.0, 1.0, 2.0, 3.0]
    assert both.at(2.0) == 1.0 + 0.25 and both.at(3.0) == 1.5
    assert both.during(0.0, 1.0) == 0.5  # the connector's half second; the platform not yet sampled
    assert connector.plus(CpuWaits()) is connector and CpuWaits().plus(platform) is platform
