"""The control client survives a server that hangs up on a kept-alive connection.

A request written onto a kept-alive connection as the server closes it gets no answer ("Server
disconnected without sending a response"): with both sides at 5 s, a check waiting 5 s on a
connector's backoff errored instead of judging. The sandbox keeps idle connections longer than
common clients do, the control client drops them sooner than the sandbox, and an idempotent
request it lost that way is sent once more.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from harness.runtime.handle import CONTROL_KEEPALIVE, SandboxError, SandboxHandle, control_client
from harness.runtime.http import server_options

ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


@pytest.fixture
def hangs_up_once() -> Iterator[tuple[str, list[bytes]]]:
    """A server that reads the first request and closes without answering, then answers 200."""
    server = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def serve() -> None:
        for n in range(2):
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                seen.append(conn.recv(65536))
                if n:
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
                    )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    address = server.getsockname()
    yield f"http://127.0.0.1:{address[1]}", seen
    if thread.is_alive():  # still waiting for a second request: wake its accept()
        socket.create_connection(address).close()
    thread.join(5)
    server.close()


def test_a_lost_get_is_sent_again(hangs_up_once: tuple[str, list[bytes]]) -> None:
    url, seen = hangs_up_once
    handle = SandboxHandle(url, "admin", "embedded", timeout=5)
    assert handle._get("/tenants/t1/requests") == {}
    assert [r.split(b" ")[:2] for r in seen] == [[b"GET", b"/_sandbox/tenants/t1/requests"]] * 2


def test_a_lost_post_is_not_sent_again(hangs_up_once: tuple[str, list[bytes]]) -> None:
    url, seen = hangs_up_once
    handle = SandboxHandle(url, "admin", "embedded", timeout=5)
    with pytest.raises(SandboxError, match="did not answer POST /tenants"):
        handle._request("POST", "/tenants", json={})
    assert len(seen) == 1


def test_idle_connections_are_dropped_before_the_server_drops_them() -> None:
    assert server_options()["timeout_keep_alive"] > max(CONTROL_KEEPALIVE, 5.0)  # 5 s: httpx's default
    client = control_client("http://127.0.0.1:1", {}, 1)
    assert client._transport._pool._keepalive_expiry == CONTROL_KEEPALIVE  # type: ignore[attr-defined]
