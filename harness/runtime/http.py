"""The HTTP server options the sandbox is served with (embedded, `harness sandbox serve`, the image).

uvicorn with httptools (llhttp, in C) and uvloop (libuv) serves several times the requests per
second of its pure-Python h11 on the stdlib loop; on this workload the server's own parsing was
most of the time left once the sandbox itself was made fast. h11 bounds a request's header
block; llhttp does not, so the protocol below keeps that bound: a slow client (slowloris) that
never finishes its headers is cut off at 64 KiB instead of growing the buffer forever.
Where httptools or uvloop is missing (a platform without wheels) the pure-Python stack is used.
"""

from __future__ import annotations

import importlib.util
from typing import Any

MAX_HEADER_BYTES = 64 * 1024


def server_options() -> dict[str, Any]:
    """uvicorn.Config keyword arguments for the sandbox's server."""
    options: dict[str, Any] = {
        # A slow client (slowloris) must not hold the server: idle keep-alive connections are
        # closed, header blocks are bounded, and past the connection limit new requests get a
        # 503 instead of queueing forever.
        "timeout_keep_alive": 5,
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

    class BoundedHttpTools(HttpToolsProtocol):  # type: ignore[misc]
        _header_bytes = 0
        _in_headers = False

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
