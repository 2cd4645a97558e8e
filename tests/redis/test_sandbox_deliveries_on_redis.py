"""The sandbox's own deliveries (tests/unit/test_sandbox_deliveries.py: the contract's event
shape and signing scheme, the scheme's secrets) with every tenant kept in Redis and deliveries
made from its shared queue."""

import pytest

from tests.unit.test_sandbox_deliveries import *  # noqa: F403


@pytest.fixture(scope="module")
def new_store(redis_server):
    from harness.sandbox.store import open_store

    return lambda: open_store(redis_server.url)
