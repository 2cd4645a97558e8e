"""Contract offers: what a contract gives certification, and a check without one is not applicable."""

from __future__ import annotations

import pytest

from harness.checks import REGISTRY, NotApplicable
from harness.checks.registry import Registry, check, not_offered
from harness.contract import load
from harness.contract.offers import OFFERS, gap, gaps


def test_the_reference_contract_offers_everything() -> None:
    assert gaps(load("contracts/platform.openapi.yaml")) == {}


def test_a_contract_without_oauth_webhooks_or_scopes_names_each_gap_and_its_fix() -> None:
    found = gaps(load("tests/contracts/ticketing.openapi.json"))
    assert set(found) == {"token_endpoint", "expiring_tokens", "scopes", "webhooks", "deletions"}
    assert "tokenUrl" in found["token_endpoint"].hint
    assert (
        "static" in found["expiring_tokens"].reason and "authorizationCode" in found["expiring_tokens"].hint
    )
    assert "webhooks" in found["webhooks"].hint


def test_auth_03_is_not_applicable_for_static_credentials_and_auth_01_where_nothing_is_secured() -> None:
    with pytest.raises(NotApplicable, match="credentials are static"):
        not_offered(REGISTRY["AUTH-03"], load("tests/contracts/ticketing.openapi.json"))
    with pytest.raises(NotApplicable, match="no operation requires a credential"):
        not_offered(REGISTRY["AUTH-01"], load("tests/contracts/real/xkcd.com.json"))
    not_offered(REGISTRY["AUTH-01"], load("tests/contracts/ticketing.openapi.json"))


def test_a_contract_with_nothing_to_sync_lacks_collections() -> None:
    missing = gap(load("tests/contracts/real/xkcd.com.json"), "collections")
    assert missing is not None and "no collection" in missing.reason


def test_a_check_requiring_a_missing_offer_is_not_applicable_with_the_gap_as_reason() -> None:
    contract = load("tests/contracts/ticketing.openapi.json")
    with pytest.raises(NotApplicable, match="declares no webhooks"):
        not_offered(REGISTRY["WH-01"], contract)
    not_offered(REGISTRY["INT-01"], contract)  # it has collections: no error


def test_an_unknown_offer_is_refused_at_registration() -> None:
    with pytest.raises(ValueError, match="unknown offer"):

        @check("X-01", pillar="auth", requires=("webhook",), registry=Registry())
        def _x(ctx) -> None:
            """A check."""

    assert "webhooks" in OFFERS
