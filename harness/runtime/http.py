"""The HTTP server options the sandbox is served with (embedded, `harness sandbox serve`, the image).

uvicorn with httptools (llhttp, in C) and uvloop (libuv) serves several times the requests per
second of its pure-Python h11 on the stdlib loop; on this workload the server's own parsing was
most of the time left once the sandbox itself was made fast. h11 bounds a request's header
block; llhttp does not, so the protocol below keeps that bound: a slow client (slowloris) that
never finishes its headers is cut off at 64 KiB instead of growing the buffer forever. And
uvicorn writes a response's head and body separately: two sends, the first waking the client
to read half a response; they are sent together instead.
Where httptools or uvloop is missing (a platform without wheels) the pure-Python stack is used.
"""

from __future__ import annotations

import asyncio
import importlib.util
from typing import Any

MAX_HEADER_BYTES = 64 * 1024
KEEP_ALIVE_S = 15


def server_options() -> dict[str, Any]:
    """uvicorn.Config keyword arguments for the sandbox's server."""
    options: dict[str, Any] = {
        # A slow client (slowloris) must not hold the server: idle keep-alive connections are
        # closed, header blocks are bounded, and past the connection limit new requests get a
        # 503 instead of queueing forever. Idle connections are closed after 15 s, later than
        # the common clients drop them (httpx's pool after 5 s, Node's fetch after 4 s): at
        # uvicorn's 5 s, a client pausing 5 s (a backoff) could write its next request onto a
        # connection as the server closed it, and lose it to the race.
        "timeout_keep_alive": KEEP_ALIVE_S,
        "limit_concurrency": 512,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
    }
    if importlib.util.find_spec("httptools") is not None:
        options["http"] = bounded_httptools()
    if importlib.util.find_spec("uvloop") is not None:
        options["loop"] = "uvloop"
    return options


def bounded_httptools() -> type:
    """uvicorn's httptools protocol, refusing a header block past MAX_HEADER_BYTES."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class BoundedHttpTools(HttpToolsProtocol):
        _header_bytes = 0
        _in_headers = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(Coalescing(transport, self.loop))  # type: ignore[arg-type]

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_headers, self._header_bytes = True, 0

        def on_headers_complete(self) -> None:
            self._in_headers = False
            super().on_headers_complete()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._in_headers and not self.transport.is_closing():
                self._header_bytes += len(data)  # this chunk went into the unfinished header block
                if self._header_bytes > MAX_HEADER_BYTES:
                    self.send_400_response("Request header block too large.")

    return BoundedHttpTools


class Coalescing:
    """A transport whose writes within one event-loop turn go out as one send."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
