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
# HYPOTHESIS_NO_PLUGINS: hypothesis runs every "hypothesis" entry point when imported; the dev
# extras' selenium brings trio, whose entry point imports trio (about 0.09 CPU s a child).
CHILD_PYTEST_ENV = {
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    "PYTEST_PLUGINS": "harness.plugin",
    "HYPOTHESIS_NO_PLUGINS": "1",
}


# Under xdist (`make test`: work stealing) the long tests come first in the collection. Work
# stealing hands each worker a contiguous run of it to start with, so the first worker starts on
# them and the others steal them from its run's end as they go idle: the long tests spread over
# the whole run, beside short ones. Dealing them out so that every worker started on its share
# (tried once) made 8 certifications contend at once and cost more CPU and wall time (433 s
# against 367 s, 645 against 526 CPU s, one run each).
# Files whose tests take 10-50 s each (whole campaigns and certifications), then the rest marked
# slow (a child certification or two), then everything else; collection order within each.
LONGEST = (
    "tests/fuzz/test_campaigns.py",
    "tests/packaging/test_wheel.py",
    "tests/plugin/test_clean_connectors.py",
    "tests/plugin/test_catalogue.py",
)


def _rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    if path in LONGEST:
        return 0
    return 1 if item.get_closest_marker("slow") else 2


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: every worker sorts alike
        items.sort(key=_rank)


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
