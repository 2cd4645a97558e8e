"""The pytest plugin (entry point `pytest11: harness`): options, hooks and fixtures only.

Heavy modules (the sandbox, Faker, schemathesis) are imported inside hooks and fixtures, so a
test suite that never passes `--connector` pays nothing for having the plugin installed.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "connector certification (connector-harness)")
    group.addoption(
        "--connector",
        metavar="PATH",
        help="the connector to certify: a connector.toml, a folder holding one, "
        "or module:Class. Without it the plugin does nothing.",
    )
    group.addoption(
        "--contract",
        metavar="FILE",
        help="the platform's OpenAPI contract (default: the bundled reference contract)",
    )
    group.addoption(
        "--seed",
        metavar="N",
        type=int,
        help="seed for data, faults and property tests (default: random, always printed)",
    )
