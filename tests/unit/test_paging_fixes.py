"""The fixes of the paging checks (INT-01, INT-03) name how the contract pages."""

from __future__ import annotations

import pytest

from harness.contract import load
from harness.report import render_html
from harness.report.fixes import FIXES, fix_for, paging_kind
from tests.conftest import ROOT
from tests.unit.test_certificate import check, predicate


@pytest.mark.parametrize(
    ("contract", "kind"),
    [
        ("tests/contracts/github_like.openapi.yaml", "page number, Link header"),
        ("tests/contracts/ticketing_like.openapi.yaml", "offset"),
        ("tests/contracts/stripe_like.openapi.yaml", "starting_after"),
        ("tests/contracts/hubspot_like.openapi.yaml", "cursor"),
    ],
)
def test_each_contract_s_lists_are_named_by_how_they_page(contract: str, kind: str) -> None:
    loaded = load(ROOT / contract)
    assert {paging_kind(c) for c in loaded.collections.values()} == {kind}


def test_the_fix_follows_the_link_header_where_it_names_the_next_page() -> None:
    text = fix_for("INT-01", ["page number, Link header"])
    assert text is not None and "`Link` header" in text and "cursor" not in text


def test_page_numbers_and_offsets_are_told_to_re_read_what_a_deletion_moved() -> None:
    pages = fix_for("INT-03", ["page number, Link header"])
    offsets = fix_for("INT-03", ["offset"])
    cursors = fix_for("INT-03", ["cursor"])
    assert pages is not None and "Page numbers shift" in pages and "cursor" not in pages
    assert offsets is not None and "overlap pages" in offsets
    assert cursors is not None and "before you start paging" in cursors and "re-read" not in cursors


def test_without_a_paging_kind_the_general_fix_is_given() -> None:
    assert fix_for("INT-01") == FIXES["INT-01"]
    assert fix_for("AUTH-01", ["offset"]) == FIXES["AUTH-01"]


def test_the_html_report_names_the_contract_s_paging_kind() -> None:
    made = predicate([check("INT-03", "failed")])
    made["contract"]["paging"] = ["page number, Link header"]
    assert "Page numbers shift" in render_html(made, signed=False)
