"""TLS for the sandbox: a certificate authority made for one run, and where clients find it.

A runtime that serves TLS makes a `RunCA` (trustme), serves its certificate, and registers the
CA under the origin it serves (`register`). Whoever talks to that origin trusts exactly that CA,
the way real clients are told to: the connector's clean room sets `SSL_CERT_FILE`,
`REQUESTS_CA_BUNDLE` and `NODE_EXTRA_CA_CERTS` to `trusted_bundle()` and its config carries
`ca_bundle`; the harness's own clients use `ca_for(url).client_context()`.

`untrusted_front(upstream)` is SEC-03's hook, the same on every runtime: a TLS listener on
loopback whose certificate comes from a second CA that nobody trusts, forwarding each connection
to the sandbox. A connector that verifies certificates fails the handshake and sends nothing; one
that turns verification off completes it (`handshakes`) and its requests reach the sandbox's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import trustme

from harness.runtime.handle import SandboxHandle, control_client
from harness.sandbox.auth import forget, vouch

HOSTS = ("127.0.0.1", "localhost", "::1")  # what a loopback sandbox is reached as


class RunCA:
    """A certificate authority for one run, a server certificate it issued for `hosts`, and the
    CA's certificate as a PEM file any process (the connector's user too) can read."""

    def __init__(self, hosts: tuple[str, ...] = HOSTS, *, name: str = "connector-harness run CA") -> None:
        self.hosts = hosts
        self._ca = trustme.CA(organization_name=name)
        self._server = self._ca.issue_cert(*hosts)
        self._folder = Path(tempfile.mkdtemp(prefix="harness-ca-"))
        self._folder.chmod(0o755)  # a public certificate: the connector runs as another user as root
        self.ca_file = self._folder / "ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_file))
        self.ca_file.chmod(0o644)

    @property
    def ca_pem(self) -> bytes:
        return self._ca.cert_pem.bytes()

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """Trusts this CA and nothing else."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def write_server_files(self, folder: Path) -> tuple[Path, Path]:
        """The server certificate chain and its key as PEM files in `folder` (for a sandbox in
        another process or a container); the key is a throwaway of this run."""
        cert, key = folder / "sandbox-cert.pem", folder / "sandbox-key.pem"
        self._server.cert_chain_pems[0].write_to_path(str(cert))
        for extra in self._server.cert_chain_pems[1:]:
            extra.write_to_path(str(cert), append=True)
        self._server.private_key_pem.write_to_path(str(key))
        return cert, key

    def close(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)


# -- who trusts what --------------------------------------------------------------------------

_served: dict[str, Path] = {}  # origin ("https://127.0.0.1:41234") -> the CA file that signed it
_lock = threading.Lock()
_bundle: Path | None = None


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def register(url: str, ca_file: Path) -> None:
    """`url`'s origin is served with a certificate signed by the CA in `ca_file`."""
    with _lock:
        _served[origin(url)] = ca_file
        _rewrite_bundle()


def unregister(url: str) -> None:
    with _lock:
        _served.pop(origin(url), None)
        _rewrite_bundle()


def ca_for(url: str) -> Path | None:
    """The CA file to trust for `url`, or None when its origin is not a TLS sandbox of this process."""
    with _lock:
        return _served.get(origin(url))


def trusted_bundle() -> Path | None:
    """One PEM file with the CA of every TLS sandbox this process serves (usually one), or None."""
    with _lock:
        return _bundle


def _rewrite_bundle() -> None:
    global _bundle
    if _bundle is not None:
        shutil.rmtree(_bundle.parent, ignore_errors=True)
        _bundle = None
    if not _served:
        return
    folder = Path(tempfile.mkdtemp(prefix="harness-trust-"))
    folder.chmod(0o755)
    bundle = folder / "ca-bundle.pem"
    bundle.write_bytes(b"".join(sorted({p.read_bytes() for p in _served.values() if p.is_file()})))
    bundle.chmod(0o644)
    _bundle = bundle


# -- SEC-03's hook: a listener with a certificate nobody trusts ---------------------------------


class UntrustedFront:
    """A TLS listener on loopback with a certificate from a CA of its own (trusted by no one),
    forwarding every connection whose handshake completes to `upstream` (the sandbox).

    `url` is its origin (give the connector `base_url`/`token_url` with this origin);
    `handshakes` counts the connections whose client accepted its certificate, `connections`
    every TCP connection made to it (so `refused`: those whose client hung up on the certificate).
    A plain TCP listener at `url` counts and relays each connection to the TLS listener behind it.
    """

    def __init__(
        self, upstream: str, upstream_ca: Path | None = None, *, ca_name: str = "untrusted CA (SEC-03)"
    ) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or (443 if parts.scheme == "https" else 80)
        self.upstream_tls: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self.upstream_tls = ssl.create_default_context(cafile=str(upstream_ca) if upstream_ca else None)
        self.ca = RunCA(name=ca_name)
        self.handshakes = 0
        self.connections = 0
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="harness-untrusted-tls", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._tls: asyncio.base_events.Server | None = None
        self._tls_port = 0

    @property
    def native_id(self) -> int | None:
        """The OS id of the thread relaying its connections (None before it starts)."""
        return self._thread.native_id

    @property
    def refused(self) -> int:
        """Connections whose TLS handshake did not complete: the client refused the certificate."""
        return max(0, self.connections - self.handshakes)

    def start(self) -> str:
        self._thread.start()
        if not self._ready.wait(10) or not self.url:
            raise RuntimeError("the untrusted TLS listener did not start")
        return self.url

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self.ca.close()

    def server_context(self) -> ssl.SSLContext:
        return self.ca.server_context()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        context = self.server_context()
        try:
            self._tls = self._loop.run_until_complete(
                asyncio.start_server(self._forward, "127.0.0.1", 0, ssl=context, ssl_handshake_timeout=5)
            )
            self._tls_port = self._tls.sockets[0].getsockname()[1]
            self._server = self._loop.run_until_complete(asyncio.start_server(self._count, "127.0.0.1", 0))
            port = self._server.sockets[0].getsockname()[1]
            self.url = f"https://127.0.0.1:{port}"
        finally:
            self._ready.set()
        self._loop.set_exception_handler(_quiet_tls_errors)
        self._loop.run_forever()
        for server in (self._server, self._tls):
            server.close()
            self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    async def _count(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Every connection counted, then relayed byte for byte to the TLS listener."""
        self.connections += 1
        try:
            tls_reader, tls_writer = await asyncio.open_connection("127.0.0.1", self._tls_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pump(reader, tls_writer), _pump(tls_reader, writer))

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.handshakes += 1  # called only once the handshake completed: the client accepted us
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port, ssl=self.upstream_tls
            )
        except OSError:
            writer.close()
            return

        await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, ssl.SSLError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    with contextlib.suppress(OSError, ssl.SSLError, RuntimeError):
        sink.close()


def _quiet_tls_errors(loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
    """A client refusing the certificate is the expected outcome, not an error to print."""
    if isinstance(context.get("exception"), (ssl.SSLError, OSError)):
        return
    loop.default_exception_handler(context)


class MutualTLSFront(UntrustedFront):
    """The platform for a contract whose scheme is `mutualTLS`: a TLS listener with a certificate
    from a CA of its own (`ca_file`, given to the connector as `ca_bundle`) that requires a client
    certificate issued by the tenant's client CA (`client_cert`, `client_key`: for `client_id`).

    A connection whose handshake completes is forwarded to the sandbox, and the front vouches for
    it (`harness.sandbox.auth.vouch`: in this process only), so the sandbox treats its requests
    as authenticated for the mutualTLS scheme. A client without a valid certificate fails the
    handshake and reaches nothing (`refused`). With `required=False` (a contract that offers
    mutualTLS as one of several alternatives) a client may connect without a certificate: its
    connection is forwarded unvouched, and a wrong certificate still fails the handshake.
    """

    def __init__(
        self, upstream: str, client_id: str, upstream_ca: Path | None = None, *, required: bool = True
    ) -> None:
        super().__init__(upstream, upstream_ca, ca_name="connector-harness mutualTLS front CA")
        self.client_id = client_id
        self.required = required
        self.upstream = upstream
        self._peers: set[tuple[str, int]] = set()
        self._client_ca = trustme.CA(organization_name="connector-harness tenant client CA")
        issued = self._client_ca.issue_cert(f"{client_id}.clients.sandbox.invalid")
        self.ca_file = self.ca.ca_file
        self.client_cert = self.ca.ca_file.parent / "client-cert.pem"
        self.client_key = self.ca.ca_file.parent / "client-key.pem"
        issued.cert_chain_pems[0].write_to_path(str(self.client_cert))
        issued.private_key_pem.write_to_path(str(self.client_key))
        self.client_cert.chmod(0o644)
        self.client_key.chmod(0o644)  # a throwaway of this run; the connector may run as another user

    def server_context(self) -> ssl.SSLContext:
        context = self.ca.server_context()
        context.verify_mode = ssl.CERT_REQUIRED if self.required else ssl.CERT_OPTIONAL
        self._client_ca.configure_trust(context)
        return context

    def stop(self) -> None:
        super().stop()
        for peer in self._peers:  # connections still open at stop vouch for nothing afterwards
            forget(peer)

    def connector_config(self) -> dict[str, str]:
        """What the connector is given to reach the platform through this front: `base_url` is
        the upstream URL (its path kept) at the front's origin."""
        return {
            "base_url": rebase(self.upstream, self.url),
            "ca_bundle": str(self.ca_file),
            "client_cert": str(self.client_cert),
            "client_key": str(self.client_key),
        }

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        certified = bool(writer.get_extra_info("peercert"))
        if not certified and self.required:  # CERT_REQUIRED makes this unreachable; belt and braces
            writer.close()
            return
        self.handshakes += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port, ssl=self.upstream_tls
            )
        except OSError:
            writer.close()
            return
        peer = up_writer.get_extra_info("sockname")[:2]
        if certified:
            vouch(peer, self.client_id)
            self._peers.add(peer)
        try:
            await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
        finally:
            forget(peer)


@contextlib.contextmanager
def mutual_tls_front(upstream: str, client_id: str, *, required: bool = True) -> Iterator[MutualTLSFront]:
    """Serve `upstream` (a sandbox's URL) behind a front asking for `client_id`'s certificate
    (requiring it unless `required=False`)."""
    front = MutualTLSFront(upstream, client_id, ca_for(upstream), required=required)
    front.start()
    try:
        yield front
    finally:
        front.stop()


@contextlib.contextmanager
def untrusted_front(upstream: str) -> Iterator[UntrustedFront]:
    """Serve `upstream` (a sandbox's origin) behind a certificate no client trusts, for a block."""
    front = UntrustedFront(upstream, ca_for(upstream))
    front.start()
    try:
        yield front
    finally:
        front.stop()


def rebase(url: str, new_origin: str) -> str:
    """`url` with its scheme and host:port replaced by `new_origin`'s, path and query kept."""
    target = urlsplit(new_origin)
    parts = urlsplit(url)
    return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, parts.fragment))


def trust_control(handle: SandboxHandle, ca_file: Path) -> None:
    """Make the handle's control client verify the sandbox against the CA in `ca_file` (a
    SandboxHandle builds a client that trusts only the public CAs)."""
    old = handle.admin
    handle.admin = control_client(
        str(old.base_url), old.headers, old.timeout, verify=ssl.create_default_context(cafile=str(ca_file))
    )
    old.close()
