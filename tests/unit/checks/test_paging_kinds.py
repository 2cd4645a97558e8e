"""Paging and incremental by what the contract offers: sizes fit the id space, and without a
change feed a deletion the replica could not see is not blamed (everything else still is)."""

from __future__ import annotations

from harness.checks.context import StreamDiff
from harness.checks.sync_judgements import unseen_deletions
from harness.contract import load
from harness.contract.offers import gap
from harness.synth import fit_sizes, id_room
from tests.conftest import ROOT

CONTRACTS = ROOT / "tests" / "contracts"


def test_a_kept_deletion_is_not_blamed_without_a_feed_but_a_missed_update_is():
    diff = StreamDiff("tickets", 10, extra=["tkt_gone"], stale=["tkt_old"], fields={"tkt_old": ["subject"]})
    kept = unseen_deletions([diff], {"tickets": {"tkt_gone": "deleted", "tkt_old": "updated"}})
    assert [(d.extra, d.stale) for d in kept] == [([], ["tkt_old"])]


def test_only_deletions_are_forgiven():
    extra = StreamDiff("tickets", 10, extra=["tkt_made_up"])
    assert unseen_deletions([extra], {"tickets": {}}) == [extra]
    gone = StreamDiff("tickets", 10, extra=["tkt_gone"])
    assert unseen_deletions([gone], {"tickets": {"tkt_gone": "deleted"}}) == []
    lost = StreamDiff("tickets", 10, lost=["tkt_new"])
    assert unseen_deletions([lost], {"tickets": {"tkt_new": "created"}}) == [lost]


def test_the_ticketing_contract_offers_incremental_but_not_deletions():
    contract = load(CONTRACTS / "ticketing_like.openapi.yaml")
    assert gap(contract, "incremental") is None
    found = gap(contract, "deletions")
    assert found is not None and "updated-since filter lists only records that still exist" in found.reason
    assert {c.pagination.style for c in contract.collections.values()} == {"offset"}


def test_sizes_fit_the_id_space_with_room_left_to_create():
    contract = load(CONTRACTS / "inventory.openapi.yaml")
    assert id_room(contract, "warehouses") == 100
    sizes, cut = fit_sizes(contract, {"warehouses": 750, "products": 1750})
    assert sizes == {"warehouses": 75, "products": 1750}
    assert cut == {"warehouses": "warehouses: 75 of 750, the ids ^WH[0-9]{2}$ hold 100"}
    assert fit_sizes(contract, {"warehouses": 20}) == ({"warehouses": 20}, {})
