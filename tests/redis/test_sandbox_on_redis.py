"""The sandbox's own tests (tests/unit/test_sandbox.py), run again with every tenant kept in
Redis: both stores pass the same suite (this folder's `sandbox` fixture serves from Redis)."""

from tests.unit.test_sandbox import *  # noqa: F403
from tests.unit.test_sandbox import tenant as _tenant  # noqa: F401


def test_the_tenants_of_these_tests_live_in_redis(sandbox, redis_server, tenant):
    with redis_server.client() as client:
        assert client.get(f"hs:{{{tenant.id}}}:meta") is not None
