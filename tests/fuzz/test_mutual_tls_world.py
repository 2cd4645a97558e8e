"""A fuzz campaign's world on a mutualTLS contract: its connectors reach the platform through the
tenant's client-certificate front, as a certification's do, and only the embedded runtime serves it."""

from __future__ import annotations

import pytest

from harness.fuzz.world import World
from tests.conftest import ROOT

CONNECTOR = ROOT / "examples" / "inventory_mtls_sync"
CONTRACT = ROOT / "tests" / "contracts" / "inventory_mtls.openapi.yaml"


def test_a_campaigns_connector_presents_its_certificate_at_the_tenants_front() -> None:
    world = World.start(str(CONNECTOR), CONTRACT)
    try:
        tenant = world.tenant(seed=3, sizes={"products": 30, "warehouses": 4})
        run = world.sync(tenant)
        assert run.errors == []
        assert set(run.replica.rows["products"]) == {r["sku"] for r in tenant.records("products")}
        assert {e.auth.credential for e in tenant.requests().api()} == {"certificate"}
    finally:
        world.close()


def test_a_campaign_on_a_runtime_that_cannot_vouch_for_certificates_is_refused_before_it_starts() -> None:
    with pytest.raises(ValueError, match=r"only the embedded sandbox serves that.*--sandbox=embedded"):
        World.start(str(CONNECTOR), CONTRACT, sandbox="container")
