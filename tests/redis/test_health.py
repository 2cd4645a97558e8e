"""A replica whose Redis is gone says so on its health route, so readiness probes take it out."""

from __future__ import annotations

import httpx

import harness.runtime
from harness.sandbox.store import open_store
from tests.redis.conftest import start_redis


def test_health_is_503_while_the_store_cannot_be_reached(platform_contract, tmp_path):
    server = start_redis(tmp_path)
    try:
        with harness.runtime.embedded(platform_contract, store=open_store(server.url)) as handle:
            health = handle.base_url + "/_sandbox/health"
            assert httpx.get(health).json()["status"] == "ok"
            server.stop()
            down = httpx.get(health, timeout=30)
            assert down.status_code == 503 and "store cannot be reached" in down.json()["detail"]
    finally:
        server.stop()
