"""CON-01..03 judged from recorded evidence: each judgement passes clean evidence and names each defect."""

from __future__ import annotations

from harness.checks.contract import judge_edge_sync, judge_records_conform, judge_requests_conform, listing
from harness.checks.pushes import (
    judge_created_once,
    judge_idempotency_keys,
    judge_keys_unique,
    judge_push_bodies,
    judge_pushes_completed,
    judge_writes_made,
)
from tests.unit.checks.evidence import log, raised, request

LIMIT = {"pointer": "/query/limit", "message": "1000 is greater than the maximum of 200"}


def write(seq: int, status: int = 201, *, key: str | None = "k1", digest: str = "sha256:a", **fields):
    headers = {"idempotency-key": key} if key else {}
    return request(
        seq, status, operation="createContact", method="POST", headers=headers, body_digest=digest, **fields
    )


# -- CON-01 ----------------------------------------------------------------------------------------


def test_conforming_requests_pass_and_violations_are_listed_by_pointer():
    assert judge_requests_conform(log(request(1), request(2))) is None
    bad = [request(2, 400, query={"limit": ["1000"]}, violations=[LIMIT]) for _ in range(2)]
    finding = judge_requests_conform(log(request(1), *bad))
    assert finding is not None
    assert finding.message.startswith(
        "2 of 3 request(s) broke the contract, e.g. GET /contacts?limit=1000 -> 400"
    )
    assert "/query/limit: 1000 is greater than the maximum of 200 (2x)" in finding.message


def test_no_request_is_nothing_to_judge():
    finding = judge_requests_conform(log(), raised("refused"))
    assert finding is not None and "made no request, so there is nothing to judge" in finding.message


def test_a_misplaced_token_is_auth_01s_finding_not_con_01s():
    token_in_query = request(
        1,
        401,
        auth={"error": "token_in_query"},
        violations=[{"pointer": "/query/access_token", "message": "x"}],
    )
    assert judge_requests_conform(log(token_in_query)) is None
    assert listing([token_in_query]) == ""


# -- CON-02 ----------------------------------------------------------------------------------------


def test_valid_records_pass_and_schema_breaks_are_counted_by_field():
    assert judge_records_conform({"companies": 2}, {"companies": {}}) is None
    found = {
        "companies": {
            "co_1": [("/industry", "'' is not one of ['saas', None]")],
            "co_2": [("/industry", "x")],
        }
    }
    finding = judge_records_conform({"companies": 5}, found)
    assert finding is not None
    assert "2 of 5 stored companies record(s) break the companies schema" in finding.message
    assert "e.g. companies co_1: /industry:" in finding.message
    assert "by field: companies/industry (2x)" in finding.message
    assert finding.details["violations"] == {"companies/industry": 2}


def test_records_stored_under_a_stream_that_is_no_collection_are_named():
    finding = judge_records_conform({"people": 3}, {})
    assert (
        finding is not None and "stored 3 record(s) under 'people', which is no collection" in finding.message
    )


def test_the_edge_sync_must_complete_and_store_something():
    assert judge_edge_sync(None, log(request(1)), stored=10, held=10) is None
    failed = judge_edge_sync(raised("UnicodeError"), log(request(1, 500)), stored=0, held=10)
    assert (
        failed is not None
        and "did not complete: sync(None) raised RuntimeError: UnicodeError" in failed.message
    )
    assert [r.seq for r in failed.requests] == [1]
    empty = judge_edge_sync(None, log(request(1)), stored=0, held=150)
    assert empty is not None and "stored no records" in empty.message and "holds 150" in empty.message


# -- CON-03 ----------------------------------------------------------------------------------------

KEYED = {"createContact"}


def test_pushes_that_made_no_write_are_named():
    assert judge_writes_made([write(1)], log(write(1)), ["contacts"], {}, "createContact") is None
    finding = judge_writes_made(
        [], log(request(1)), ["contacts"], {"contacts": raised("no")}, "createContact"
    )
    assert finding is not None
    assert "pushing 3 record(s) to contacts made no write request to the platform" in finding.message
    assert finding.expected == "one create request per record (createContact)"


def test_a_write_without_an_idempotency_key_fails():
    writes = [write(1, key="k1"), write(2, key=None)]
    assert judge_idempotency_keys([write(1)], KEYED) is None
    finding = judge_idempotency_keys(writes, KEYED)
    assert finding is not None
    assert (
        "1 of 2 push request(s) had no Idempotency-Key header, e.g. POST /contacts -> 201" in finding.message
    )


def test_a_write_to_an_operation_that_takes_no_key_needs_none():
    # fairness: a PUT or DELETE on an operation with no Idempotency-Key parameter is idempotent by HTTP
    put = request(1, 200, operation="replaceContact", method="PUT", path="/contacts/c1")
    assert judge_idempotency_keys([put], KEYED) is None


def test_push_bodies_that_break_the_create_schema_fail():
    assert judge_push_bodies([write(1)]) is None
    bad = write(2, 422, violations=[{"pointer": "/body/email", "message": "'x' is not an 'email'"}])
    finding = judge_push_bodies([write(1), bad])
    assert finding is not None and "1 of 2 push request(s) broke the contract" in finding.message
    assert "/body/email: 'x' is not an 'email' (1x)" in finding.message


def test_one_key_for_different_records_fails_and_a_retry_with_the_same_body_passes():
    assert judge_keys_unique([write(1, key="k1"), write(2, key="k1"), write(3, key="k2", digest="b")]) is None
    finding = judge_keys_unique([write(1, key="k1"), write(2, key="k1", digest="sha256:b")])
    assert finding is not None
    assert (
        "used the same Idempotency-Key for different records: 'k1' on 2 different bodies" in finding.message
    )


def test_a_failed_push_and_a_wrong_number_created_are_named():
    assert judge_pushes_completed([write(1)], {}) is None
    failed = judge_pushes_completed([write(1, 500)], {"contacts": raised("500")})
    assert failed is not None and "push('contacts', 3 valid records) failed" in failed.message
    assert judge_created_once([write(1)], {"contacts": 3}, {"contacts": 3}) is None
    twice = judge_created_once([write(1)], {"contacts": 6}, {"contacts": 3})
    assert twice is not None and "pushing 3 record(s) to contacts created 6 on the platform" in twice.message


def test_the_operations_that_take_an_idempotency_key_are_read_from_the_contract():
    from harness.checks.pushes import keyed_operations
    from harness.contract import load
    from tests.conftest import ROOT

    keyed = keyed_operations(load(ROOT / "contracts" / "platform.openapi.yaml"))
    assert {"createContact", "updateContact"} <= keyed
    assert "listContacts" not in keyed and "getContact" not in keyed
