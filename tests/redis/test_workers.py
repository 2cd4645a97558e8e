"""`harness sandbox serve --workers N`: N processes on one port sharing the Redis store, a dead
worker started again by the supervisor, and a clear refusal without a shared store."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx

from tests.conftest import ROOT
from tests.redis.replicas import ADMIN, start_replica, token


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(line) for line in out.split()]


def test_workers_share_one_port_and_a_dead_one_is_started_again(redis_server):
    service = start_replica(redis_server.url, "--workers", "2")
    try:
        workers = children(service.proc.pid)
        assert len(workers) == 2
        tenant = service.admin.post("/_sandbox/tenants", json={"seed": 1, "sizes": {"contacts": 2}}).json()
        headers = {"Authorization": f"Bearer {token(service, tenant)}"}
        for _ in range(20):  # new connections each time: the kernel spreads them over both workers
            assert httpx.get(service.api(tenant["id"]) + "/v1/contacts", headers=headers).status_code == 200
        subprocess.run(["kill", "-9", str(workers[0])], check=True)
        deadline = time.monotonic() + 60
        while len(set(children(service.proc.pid)) - {workers[0]}) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(set(children(service.proc.pid)) - {workers[0]}) == 2
        for _ in range(10):
            assert httpx.get(service.api(tenant["id"]) + "/v1/contacts", headers=headers).status_code == 200
    finally:
        assert service.stop() == 0


def test_more_than_one_worker_needs_a_shared_store():
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "sandbox", "serve", "--workers", "2", "--admin-token", ADMIN],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "--workers 2 needs --store redis://" in result.stderr
