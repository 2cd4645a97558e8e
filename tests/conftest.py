from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = Path(__file__).resolve().parent / "contracts"

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def platform_contract():
    from harness.contract import default_contract_path, load

    return load(default_contract_path())


@pytest.fixture(scope="session")
def ticketing_contract():
    from harness.contract import load

    return load(CONTRACTS / "ticketing.openapi.json")


@pytest.fixture(scope="session")
def inventory_contract():
    from harness.contract import load

    return load(CONTRACTS / "inventory.openapi.yaml")
