"""A real Redis server for the tests of the Redis store: Debian's `redis-server`, started on a
free port in a temporary directory and stopped afterwards. Without it these tests skip, except
under CI (CI=true), where a missing server fails them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

import harness.runtime


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.redis)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process, self.port = process, port
        self._db = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def flush(self) -> None:
        with self.client() as client:
            client.flushall()


def start_redis(workdir) -> RedisServer:
    """A redis-server on a free port, its files in `workdir`; fails (or skips, outside CI) without one."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    port = _free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(workdir),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = RedisServer(process, port)
    deadline = time.monotonic() + 10
    while True:
        try:
            with server.client() as client:
                client.ping()
            return server
        except Exception:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"redis-server did not start on port {port}")
            time.sleep(0.05)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def redis_store(redis_server):
    from harness.sandbox.store import open_store

    return open_store(redis_server.url)


@pytest.fixture(scope="module")
def sandbox(platform_contract, redis_server):
    """The embedded sandbox with its tenants in Redis: the shared sandbox tests run on it."""
    from harness.sandbox.store import open_store

    with harness.runtime.embedded(platform_contract, store=open_store(redis_server.url)) as handle:
        yield handle


@pytest.fixture(scope="module")
def http():
    with httpx.Client(timeout=10) as client:
        yield client
