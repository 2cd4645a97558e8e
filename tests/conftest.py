from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = Path(__file__).resolve().parent / "contracts"

pytest_plugins = ["pytester"]

# What a child pytest (pytester's subprocess runs, tests/connectors/clean_matrix.py) loads: the
# harness plugin alone, as `harness certify`'s gate does. Autoloading every installed plugin
# (hypothesis, schemathesis, faker, respx, xdist, ...) costs about 2.3 s of CPU per child, and the
# suite starts well over a hundred; no certification uses them. A test that needs another plugin
# passes `-p NAME`; tests/packaging/test_wheel.py drops these to prove the entry point itself.
CHILD_PYTEST_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTEST_PLUGINS": "harness.plugin"}


@pytest.fixture(scope="session", autouse=True)
def _child_pytest_loads_the_harness_plugin_only() -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in CHILD_PYTEST_ENV}
    os.environ.update(CHILD_PYTEST_ENV)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


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
