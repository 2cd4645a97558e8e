"""WH-01, WH-02 and WH-03 judged from recorded deliveries."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest

from harness.checks.deliveries import BODY_STYLES, NON_ASCII, non_ascii_text, shuffled
from harness.checks.webhooks import (
    TAMPERING,
    applied_problem,
    body_traits,
    judge_applied,
    judge_applied_once,
    judge_first_accepted,
    judge_refused,
)
from harness.contract import load
from harness.contract.schema import validator_for
from harness.core.signing import Signing
from tests.unit.checks.evidence import delivered, webhook_event

CREATED, DELETED = webhook_event("created"), webhook_event("deleted")
RECORD = {"id": "con_1", "name": "Ada", "email": "ada@example.com"}


# -- WH-01 ----------------------------------------------------------------------------------------


def test_applied_passes_for_upserts_stored_and_deletes_removed():
    stored = delivered(204, record=RECORD, row={**RECORD, "extra": 1}, applied=("upsert",))
    removed = delivered(200, event=DELETED, row=None, applied=("delete",))
    assert applied_problem(stored) == "" and applied_problem(removed) == ""
    assert judge_applied([stored, removed], [CREATED, DELETED]) is None


def test_applied_names_each_way_an_authentic_delivery_can_go_wrong():
    assert applied_problem(delivered(401, record=RECORD)) == "answered 401 (its body compact)"
    assert applied_problem(delivered("crashed (KeyError)")) == "crashed (KeyError)"
    assert (
        applied_problem(delivered(204, record=RECORD)) == "answered 204 but the record is not in the replica"
    )
    other = delivered(204, record=RECORD, row={**RECORD, "name": "Bob", "email": "b@example.com"})
    assert applied_problem(other) == "answered 204 but the replica holds other values for email, name"
    kept = delivered(204, event=DELETED, row=RECORD)
    assert applied_problem(kept) == "answered 204 but the record is still in the replica"


def test_judge_applied_counts_the_failed_deliveries_and_lists_the_events():
    finding = judge_applied(
        [delivered(401, record=RECORD), delivered(204, record=RECORD, row=RECORD)], [CREATED]
    )
    assert finding is not None
    assert finding.message == (
        "did not accept and apply 1 correctly signed deliveries (standard-webhooks (webhook-signature)): "
        "contact.created about con_1: answered 401 (its body compact)"
    )
    assert finding.details["events"] == ["contact.created"]


def test_a_refused_body_is_described_by_its_layout_and_non_ascii_text():
    indented = json.dumps({"type": "contact.created", "data": {"name": "Zoë"}}, indent=2, ensure_ascii=False)
    assert body_traits(indented.encode()) == "indented, with non-ASCII text as UTF-8"
    assert body_traits(b'{"type": "x"}') == "spaced" and body_traits(b'{"type":"x"}') == "compact"
    refused = replace(delivered(401, record=RECORD), payload=indented.encode())
    assert applied_problem(refused) == "answered 401 (its body indented, with non-ASCII text as UTF-8)"


def test_bodies_come_compact_spaced_indented_with_keys_shuffled_and_utf8_text():
    body = {"type": "contact.updated", "timestamp": "t", "data": {"id": "con_1", "a": 1, "name": "Zoë"}}
    rng = random.Random(3)
    again = shuffled(body, rng)
    assert again == body and list(again) != list(body) and list(again["data"]) != list(body["data"])
    assert shuffled([{"b": 1, "a": 2}], rng) == [{"a": 2, "b": 1}]
    assert [style for style, _ in BODY_STYLES] == [{"separators": (",", ":")}, {}, {"indent": 2}]


@pytest.mark.parametrize(
    ("contract", "collection"),
    [
        ("contracts/platform.openapi.yaml", "contacts"),
        ("tests/contracts/github_like.openapi.yaml", "issues"),
        ("tests/contracts/stripe_like.openapi.yaml", "customers"),
    ],
)
def test_non_ascii_text_goes_into_a_free_text_field_the_schema_allows(contract: str, collection: str):
    loaded = load(contract)
    col = loaded.collections[collection]
    for record in ({}, {"x": 1}):
        [(name, value)] = non_ascii_text(loaded, collection, record).items()
        assert NON_ASCII in value and name not in (col.id_field, col.updated_field)
        assert validator_for(loaded, f"{col.item_schema_uri}/properties/{name}").is_valid(value)
    [(name, _)] = non_ascii_text(loaded, collection, {}).items()
    assert non_ascii_text(loaded, collection, {name: "Ada"})[name] == f"Ada {NON_ASCII}"


# -- WH-02 ----------------------------------------------------------------------------------------


def test_refused_passes_when_every_tampered_delivery_got_a_4xx_and_changed_nothing():
    assert judge_refused(CREATED, {kind: delivered(401) for kind in TAMPERING}) is None


def test_refused_names_accepted_crashed_and_side_effecting_deliveries():
    outcomes = {kind: delivered(401) for kind in TAMPERING}
    outcomes["bad_signature"] = delivered(204, applied=("upsert",))
    outcomes["stale_timestamp"] = delivered("crashed (ValueError)")
    outcomes["missing_id"] = delivered(400, applied=("upsert",))
    finding = judge_refused(CREATED, outcomes)
    assert finding is not None
    assert finding.message.startswith(
        "accepted 3 of 8 contact.created deliveries it must refuse, "
        "signed standard-webhooks (webhook-signature): "
    )
    assert "a signature that does not match the body (bad_signature): answered 204, and stored con_1" in (
        finding.message
    )
    assert "a timestamp an hour old (stale_timestamp): crashed (ValueError)" in finding.message
    assert "no webhook-id header (missing_id): answered 400, and stored con_1" in finding.message


def test_refused_says_deleted_for_a_deleted_event():
    finding = judge_refused(DELETED, {"wrong_secret": delivered(200, event=DELETED, applied=("delete",))})
    assert finding is not None and "(wrong_secret): answered 200, and deleted con_1" in finding.message


# -- WH-03 ----------------------------------------------------------------------------------------


def test_first_accepted_passes_a_2xx_and_otherwise_says_duplicates_were_not_tested():
    assert judge_first_accepted(delivered(204)) is None
    finding = judge_first_accepted(delivered(401))
    assert finding is not None
    assert finding.message == (
        "refused a correctly signed contact.created delivery (answered 401); duplicates could not be tested"
    )


def test_applied_once_passes_duplicates_answered_without_side_effects():
    original = delivered(204, applied=("upsert",))
    later = delivered(204, event=DELETED, applied=("delete",))
    duplicates = [
        ("the same message again", delivered(204)),
        ("the first message again after x", delivered(409)),
    ]
    assert judge_applied_once(original, duplicates, later, False, ["upsert", "delete"]) is None


def test_applied_once_names_a_duplicate_applied_again_and_a_deleted_record_brought_back():
    original = delivered(204, applied=("upsert",))
    later = delivered(204, event=DELETED, applied=("delete",))
    again = delivered(204, applied=("upsert",), webhook_id="msg_1")
    duplicates = [("the first message again after contact.deleted", again)]
    finding = judge_applied_once(original, duplicates, later, True, ["upsert", "delete", "upsert"])
    assert finding is not None
    assert (
        "the first message again after contact.deleted (webhook-id msg_1): applied it again (upsert con_1)"
        in finding.message
    )
    assert "con_1 was deleted on the platform but is back in the replica" in finding.message
    assert finding.details["expected_operations"] == ["upsert", "delete"]
    assert finding.details["operations"] == ["upsert", "delete", "upsert"]


def test_applied_once_names_a_5xx_duplicate_and_a_refused_later_event():
    original = delivered(204, applied=("upsert",))
    later = delivered(401, event=DELETED)
    finding = judge_applied_once(original, [("the same message again", delivered(500))], later, False, [])
    assert finding is not None
    assert "contact.deleted: answered 401" in finding.message
    assert "the same message again: answered 500" in finding.message


def test_applied_once_without_a_later_event_does_not_ask_for_a_delete():
    original = delivered(204, applied=("upsert",))
    finding = judge_applied_once(
        original, [("the same message again", delivered("hung (x)"))], None, True, []
    )
    assert finding is not None
    assert finding.message == "did not apply duplicate deliveries once: the same message again: hung (x)"
    assert finding.details["expected_operations"] == ["upsert"]


# -- other signing schemes: the messages name the scheme and its headers ----------------------------

GITHUB = Signing("hmac", "X-Hub-Signature-256", "hex", "sha256=", "sha256", None, "", "X-GitHub-Delivery")


def test_refused_on_hmac_names_the_scheme_its_header_and_no_timestamp():
    event = replace(CREATED, signing=GITHUB)
    outcomes = {kind: delivered(401, event=event) for kind in GITHUB.tamperings}
    outcomes["missing_signature"] = delivered(204, event=event, applied=("upsert",))
    finding = judge_refused(event, outcomes)
    assert finding is not None
    assert finding.message.startswith(
        "accepted 1 of 4 contact.created deliveries it must refuse, signed hmac (X-Hub-Signature-256): "
        "no X-Hub-Signature-256 header (missing_signature): answered 204, and stored con_1"
    )
    assert (
        "timestamp" not in finding.expected and "X-GitHub-Delivery, X-Hub-Signature-256" in finding.expected
    )


def test_applied_once_names_the_schemes_delivery_id_or_the_same_signature():
    event = replace(CREATED, signing=GITHUB)
    again = replace(delivered(204, event=event, applied=("upsert",)), headers={"X-GitHub-Delivery": "d-1"})
    finding = judge_applied_once(delivered(204, event=event), [("again", again)], None, False, [])
    assert finding is not None and "again (X-GitHub-Delivery d-1): applied it again" in finding.message
    assert "a duplicate X-GitHub-Delivery answered" in finding.expected
    shopify = replace(GITHUB, header="X-Shopify-Hmac-Sha256", id_header=None)
    plain = replace(delivered(204, event=replace(CREATED, signing=shopify), applied=("upsert",)), headers={})
    finding = judge_applied_once(delivered(204), [("again", plain)], None, False, [])
    assert finding is not None and "(the same body and X-Shopify-Hmac-Sha256)" in finding.message
