"""The embedded runtime: the sandbox app served by uvicorn on a loopback port in a thread.

Any HTTP client can reach it (httpx, requests, urllib, a subprocess). Starting takes a fraction
of a second; stopping closes the socket and joins the thread, leaving nothing behind.

With `tls=True` (what a certification runs) it serves HTTPS only, with a certificate from a CA
made for this run (`harness.runtime.tls.RunCA`), registered so that the connector and the
harness's clients trust it; `tls=False` (the default of `embedded()`) serves plain HTTP.

It also records egress (`SandboxHandle.recording_egress()`): while recording, every httpx
request in this process is routed through respx; the sandbox and other loopback addresses pass
through, anything else is logged and answered with a connect error, so nothing leaves. Only
httpx is observed: `requests`, `urllib` and subprocesses (command connectors) are not.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpcore
import httpx
import respx
import uvicorn

from harness.contract import Contract
from harness.runtime import tls as tls_trust
from harness.runtime.handle import SandboxHandle
from harness.runtime.http import server_options
from harness.sandbox import Sandbox
from harness.sandbox.store import Store

START_TIMEOUT = 10.0


class HttpxEgress:
    """Egress recording for httpx clients in this process (sync and async), with a respx router.

    Requests to the sandbox's host:port and to loopback addresses pass through untouched; any
    other request is recorded (method, URL without userinfo and with query values masked) and
    fails with `httpx.ConnectError`, as an unreachable host would. Not observed: other HTTP
    clients (requests, urllib, aiohttp) and other processes.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._active = False

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        with self._lock:
            if self._active:
                raise RuntimeError("egress is already being recorded; recordings do not nest")
            self._active, self._entries = True, []
        router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
        router.route().mock(side_effect=self._route)
        router.start()
        try:
            yield
        finally:
            router.stop(quiet=True)
            with self._lock:
                self._active = False

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def _route(self, request: httpx.Request) -> httpx.Request:
        url = request.url
        if self._allowed(url.host, url.port or (443 if url.scheme == "https" else 80)):
            return request  # respx: a route answering with the request passes it through
        with self._lock:
            self._entries.append({"method": request.method, "url": public_url(url), "host": url.host})
        raise httpcore.ConnectError(f"egress to {url.host} is blocked under certification")

    def _allowed(self, host: str, port: int) -> bool:
        if (host, port) == (self.host, self.port) or host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


def public_url(url: httpx.URL) -> str:
    """The URL without userinfo, fragment or query values (keys kept): safe for a report."""
    query = "&".join(f"{key}=****" for key, _ in url.params.multi_items())
    bare = url.copy_with(username=None, password=None, query=None, fragment=None)
    return str(bare) + (f"?{query}" if query else "")


class EmbeddedSandbox:
    def __init__(
        self,
        contract: Contract,
        admin_token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        store: Store | None = None,
        reuse_port: bool = False,
        *,
        tls: bool = False,
        certificate: tuple[Path, Path] | None = None,
    ) -> None:
        self.sandbox = Sandbox(contract, admin_token, store)  # tenants in memory unless a store is given
        self.host, self.port = host, port
        self.reuse_port = reuse_port  # several worker processes on one port (the kernel spreads connections)
        self.tls = tls or certificate is not None
        self.certificate = certificate  # (chain, key) PEM files to serve instead of a run CA's
        self.ca: tls_trust.RunCA | None = None  # the run's CA, while serving TLS
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.handle: SandboxHandle | None = None

    def start(self) -> SandboxHandle:
        # IPPROTO_TCP explicitly: asyncio turns Nagle off (TCP_NODELAY) only for sockets that say so,
        # and with Nagle on every keep-alive response waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise RuntimeError(
                f"cannot listen on {self.host}:{self.port} ({exc.strerror}); "
                "choose another port, or 0 for any free one"
            ) from None
        self._socket = sock
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.sandbox.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
            **server_options(),  # httptools + uvloop, with slow clients bounded
            **self._tls_options(),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=f"harness-sandbox:{port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"the embedded sandbox did not start on {self.host}:{port} within {START_TIMEOUT} s"
                )
            time.sleep(0.005)
        scheme = "https" if self.tls else "http"
        url = f"{scheme}://{self.host}:{port}"
        if self.ca is not None:
            tls_trust.register(url, self.ca.ca_file)
        self.handle = SandboxHandle(url, self.sandbox.admin_token, "embedded")
        if self.ca is not None:
            tls_trust.trust_control(self.handle, self.ca.ca_file)
        self.handle.egress_recorder = HttpxEgress(self.host, port)
        self.handle.platform_threads = self._serving_threads
        return self.handle

    def _serving_threads(self) -> list[int]:
        """The server thread (uvicorn's event loop, which runs the sandbox), while it runs."""
        thread = self._thread
        return [thread.native_id] if thread is not None and thread.native_id is not None else []

    def _tls_options(self) -> dict[str, Any]:
        if self.certificate is not None:
            return {"ssl_certfile": str(self.certificate[0]), "ssl_keyfile": str(self.certificate[1])}
        if not self.tls:
            return {}
        self.ca = ca = tls_trust.RunCA((self.host, *(h for h in tls_trust.HOSTS if h != self.host)))
        return {"ssl_context_factory": lambda config, default: ca.server_context()}

    def stop(self) -> None:
        if self.handle is not None:
            tls_trust.unregister(self.handle.base_url)
            self.handle.close()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self.sandbox.close()
        if self.ca is not None:
            self.ca.close()
        self._server = self._thread = self._socket = self.handle = self.ca = None


@contextlib.contextmanager
def embedded(
    contract: Contract, admin_token: str | None = None, store: Store | None = None, *, tls: bool = False
) -> Iterator[SandboxHandle]:
    runtime = EmbeddedSandbox(contract, admin_token, store=store, tls=tls)
    try:
        yield runtime.start()
    finally:
        runtime.stop()
