"""DATA-01 judged from recorded evidence, and its canaries: shaped like the platform's own values."""

from __future__ import annotations

import json
import random
import re

import pytest

from harness.checks.canaries import canary_fields, domain_of, draw_word, found, hide, in_format
from harness.checks.data import judge_minimize_sync, judge_minimized, leak_phrase, undeclared_phrase
from harness.contract import load
from tests.conftest import ROOT
from tests.unit.checks.evidence import raised

KEEP = {"contacts": {"id", "email"}}
HARNESS_SHAPES = re.compile(r"cnry|canary|harness|sandbox", re.IGNORECASE)


@pytest.fixture(scope="module")
def contract():
    return load(ROOT / "contracts" / "platform.openapi.yaml")


def test_records_with_only_declared_fields_and_no_canary_anywhere_pass():
    rows = {"contacts": {"c1": {"id": "c1", "email": "a@b.io"}}}
    outputs = [("log #1", "synced 1 contact"), ("record contacts/c1", json.dumps(rows["contacts"]["c1"]))]
    assert judge_minimized(rows, KEEP, outputs, {"tavorimeku": "contacts/c9 phone"}) is None


def test_an_undeclared_field_in_a_stored_record_is_named_with_an_example():
    rows = {"contacts": {"c1": {"id": "c1", "email": "a@b.io", "phone": "+1 555"}, "c2": {"id": "c2"}}}
    assert undeclared_phrase("contacts", rows["contacts"], KEEP["contacts"]) == (
        'stored 1 undeclared field(s) of contacts (phone) in 1 of 2 record(s), e.g. c1: phone="+1 555"'
    )
    finding = judge_minimized(rows, KEEP, [], {})
    assert finding is not None
    assert "undeclared field" in finding.message
    assert "contacts = ['email', 'id']" in finding.expected


def test_a_canary_in_any_output_is_named_by_where_it_was_planted_and_where_it_went():
    canaries = {"tavorimeku": "contacts/c9 phone"}
    outputs = [("log #1", "synced contact Tavorimeku"), ("stderr line 3", "TAVORIMEKU")]
    finding = judge_minimized({}, KEEP, outputs, canaries)
    assert finding is not None
    assert "undeclared field values reached its outputs 2 time(s) (log, stderr)" in finding.message
    assert "the canary planted in contacts/c9 phone appears in log #1" in finding.message
    assert leak_phrase([("log #1", "tavorimeku")], canaries).startswith("undeclared field values reached")


def test_a_message_never_shows_a_canary():
    rows = {"contacts": {"c1": {"id": "c1", "email": "a@b.io", "phone": "Tavorimeku"}}}
    finding = judge_minimized(rows, KEEP, [], {"tavorimeku": "contacts/c1 phone"})
    assert finding is not None
    assert "phone=" in finding.message and "tavorimeku" not in finding.message.lower()
    assert hide("x Tavorimeku@acme.io y", ["tavorimeku"]) == "x ****@acme.io y"


def test_the_syncs_must_complete_and_store_a_declared_record():
    rows = {"contacts": {"c1": {"id": "c1"}}}
    assert judge_minimize_sync(None, rows, ["contacts"]) is None
    failed = judge_minimize_sync(raised("boom"), rows, ["contacts"])
    assert failed is not None and "the sync did not complete" in failed.message
    empty = judge_minimize_sync(None, {}, ["contacts", "deals"])
    assert empty is not None and "stored no contacts or deals record" in empty.message


# -- canaries in the fields' own formats (issue 13: "not detectable") -------------------------------


def test_canary_words_are_distinct_reproducible_and_name_nothing():
    taken: set[str] = set()
    words = [draw_word(random.Random(7), taken) for _ in range(3)]
    assert len(set(words)) == 3 and taken == set(words)
    assert draw_word(random.Random(7)) == words[0]
    assert all(re.fullmatch(r"[a-z]{10}", w) and not HARNESS_SHAPES.search(w) for w in words)


def test_a_canary_takes_the_format_and_domain_of_the_platforms_own_value():
    assert domain_of("jane.doe@acme.io") == "acme.io"
    assert domain_of("https://www.acme.io/x") == "www.acme.io"
    assert domain_of("api.acme.io") == "acme.io"
    assert domain_of(None) == "example.com"
    assert in_format("tavorimeku", "email", "jane@acme.io") == "tavorimeku@acme.io"
    assert in_format("tavorimeku", "hostname", "www.acme.io") == "tavorimeku.acme.io"
    assert in_format("tavorimeku", "uri", "http://acme.io/p") == "http://acme.io/tavorimeku"
    assert in_format("tavorimeku", None) == "Tavorimeku"
    assert found("tavorimeku", "stored TAVORIMEKU@ACME.IO") and not found("tavorimeku", "tavorimek")


def test_canary_fields_are_schema_valid_shaped_like_the_platforms_and_carry_no_harness_mark(contract):
    base = {"email": "jane@acme.io", "first_name": "Jane", "phone": "+1 555 0100", "tags": ["vip"]}
    fields, planted = canary_fields(
        contract, "contacts", {"id", "updated_at", "first_name"}, base, random.Random(3), set()
    )
    assert planted and set(planted.values()) <= set(fields)
    assert "first_name" not in fields and "id" not in fields
    assert fields["email"].endswith("@acme.io")
    text = json.dumps(fields)
    assert not HARNESS_SHAPES.search(text)
    for word, name in planted.items():
        assert found(word, json.dumps(fields[name]))
    validator = contract.validator(contract.collections["contacts"].item_schema_uri)
    record = {**base, **fields}
    assert not [e for e in validator.iter_errors(record) if e.absolute_path and e.absolute_path[0] in fields]


def test_a_long_value_is_cut_after_its_canary_is_masked_so_no_half_canary_shows():
    url = "https://acme.io/aaaaaaaaaaaaa/tavorimeku"  # cut at 37 characters: mid-canary
    rows = {"c1": {"id": "c1", "website": url}}
    text = undeclared_phrase("contacts", rows, {"id"}, ["tavorimeku"])
    assert "tavori" not in text.lower() and "website=" in text


def test_planted_canaries_are_masked_in_any_letter_case() -> None:
    from harness.checks.context import CheckContext
    from harness.report.mask import Masker

    ctx = CheckContext("DATA-01", sandbox=None, contract=None, manifest=None, seed=1)  # type: ignore[arg-type]
    ctx.plant("Gupelunudu@acme.io")
    text = Masker(ctx.masked).text("failed on GUPELUNUDU@ACME.IO, gupelunudu@acme.io and Gupelunudu@acme.io")
    assert "gupelunudu" not in text.lower()
    assert text.startswith("failed on ")
