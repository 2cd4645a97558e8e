"""The container runtime: the sandbox image (the project's Dockerfile) started with testcontainers.

    with container(contract) as handle:      # the same SandboxHandle the embedded runtime gives
        tenant = handle.new_tenant(seed=1)

The image runs `harness sandbox serve` on port 8765; the contract (a read-only mount of its folder,
when it is not the bundled one), the seed and the admin token go in through the environment.
Ready means `GET /_sandbox/health` answers 200 on the mapped port, within `start_timeout`; a
container that exits first, or is not ready in time, is removed and reported with its last log
lines. The image is never pulled: a missing one is an error naming the command that builds it.

testcontainers' reaper (Ryuk) is an image pulled from a registry, which not every machine can
reach, so it is off unless TESTCONTAINERS_RYUK_DISABLED says otherwise, and this module removes
its containers itself: on exit, on failure, on Ctrl-C, and, for a session that was killed
outright, the next time a container sandbox starts on the same machine (every container is
labelled with the host and process that owns it).

testcontainers is imported only when a container starts, so the rest of the harness works
without it (`pip install 'connector-harness[container]'`).

With `tls=True` (what a certification runs) the harness makes the run's CA, mounts the server
certificate it issued (and the CA, for the image's HEALTHCHECK) read-only at /tls, and the
container serves HTTPS only; the CA is registered for the connector to trust (runtime/tls.py).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from harness import __version__
from harness.contract import Contract, default_contract_path
from harness.core.errors import HarnessError
from harness.runtime import tls as tls_trust
from harness.runtime.handle import SandboxHandle

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer

DEFAULT_IMAGE = os.environ.get("HARNESS_IMAGE") or f"connector-harness:{__version__}"
BUILD_COMMAND = "harness image build"
PORT = 8765
HEALTH_PATH = "/_sandbox/health"
START_TIMEOUT = 30.0
LOG_LINES = 30
CONTRACT_DIR = "/contract"  # where a non-default contract's folder is mounted, read-only
TLS_DIR = "/tls"  # where the run's server certificate, key and CA are mounted, read-only

LABEL = "dev.connector-harness.sandbox"  # every sandbox container has it
OWNER_LABEL = "dev.connector-harness.owner"  # "<hostname>:<pid>" of the process that started it
ID_LABEL = "dev.connector-harness.id"  # one per ContainerSandbox, for tests and by-hand cleanup


class ContainerError(HarnessError, RuntimeError):
    """The container runtime cannot run here, or a sandbox container did not come up."""

    def __init__(self, message: str, short: str | None = None) -> None:
        super().__init__(message)
        self.short = short or message  # a few words, for a skip reason


def build_hint(image: str) -> str:
    return BUILD_COMMAND if image == DEFAULT_IMAGE else f"{BUILD_COMMAND} --tag {image}"


def unavailable(image: str | None = None) -> str | None:
    """Why a container sandbox cannot start on this machine, in a few words; None if it can."""
    image = image or DEFAULT_IMAGE
    try:
        client = _docker_client()
    except ContainerError as exc:
        return exc.short
    try:
        return None if _has_image(client, image) else f"no image {image}"
    finally:
        client.close()


class ContainerSandbox:
    """One sandbox container. `start()` returns its SandboxHandle; `stop()` removes the container."""

    def __init__(
        self,
        contract: Contract | str | Path | None = None,
        admin_token: str | None = None,
        *,
        seed: int | None = None,
        image: str | None = None,
        start_timeout: float = START_TIMEOUT,
        tls: bool = False,
    ) -> None:
        path = contract.file if isinstance(contract, Contract) else contract
        self.contract_file = Path(path).resolve() if path is not None else None
        self.admin_token = admin_token or secrets.token_urlsafe(24)
        self.seed = seed
        self.image = image or DEFAULT_IMAGE
        self.start_timeout = start_timeout
        self.id = uuid.uuid4().hex[:12]
        self.handle: SandboxHandle | None = None
        self.ready_after: float | None = None  # seconds from start() to a healthy sandbox
        self.tls = tls
        self.ca: tls_trust.RunCA | None = None  # the run's CA, while serving TLS
        self._container: DockerContainer | None = None

    def environment(self) -> dict[str, str]:
        env = {"HARNESS_ADMIN_TOKEN": self.admin_token}
        if self.seed is not None:
            env["HARNESS_SEED"] = str(self.seed)
        if (mounted := self._mounted_contract()) is not None:
            env["HARNESS_CONTRACT"] = f"{CONTRACT_DIR}/{mounted.name}"
        if self.tls:
            env["HARNESS_TLS_CERT"] = f"{TLS_DIR}/sandbox-cert.pem"
            env["HARNESS_TLS_KEY"] = f"{TLS_DIR}/sandbox-key.pem"
            env["HARNESS_TLS_CA"] = f"{TLS_DIR}/ca.pem"
        return env

    def start(self) -> SandboxHandle:
        if self._container is not None:
            raise ContainerError("this container sandbox is already started")
        _ryuk_off_unless_configured()
        from testcontainers.core.container import DockerContainer

        client = _docker_client()
        try:
            if not _has_image(client, self.image):
                raise ContainerError(_missing_image(self.image))
            reap_orphans(client)
            hosts = _engine_hosts(client) if self.tls else ()
        finally:
            client.close()
        container = DockerContainer(
            self.image,
            env=self.environment(),
            labels={LABEL: "1", OWNER_LABEL: _owner(), ID_LABEL: self.id},
        )
        container.with_exposed_ports(PORT)
        if (mounted := self._mounted_contract()) is not None:
            container.with_volume_mapping(mounted.parent, CONTRACT_DIR, "ro")
        if self.tls:
            self.ca = tls_trust.RunCA(hosts)
            folder = self.ca.ca_file.parent  # public (0755); the key is this run's throwaway
            for pem in self.ca.write_server_files(folder):
                pem.chmod(0o644)  # the container's user (uid 10001) must read it
            container.with_volume_mapping(str(folder), TLS_DIR, "ro")
        container.waiting_for(
            _health_wait(self.ca).with_startup_timeout(self.start_timeout).with_poll_interval(0.05)
        )
        self._container = container
        started = time.monotonic()
        try:
            container.start()
        except _NotReady as exc:
            logs = self._last_logs()
            self.stop()
            note = (
                f" {CONTRACT_DIR}/{contract.name} is {contract}, mounted read-only."
                if (contract := self._mounted_contract()) is not None
                else ""
            )
            raise ContainerError(f"the sandbox container ({self.image}) {exc}{note}\n{logs}") from None
        except BaseException:  # Ctrl-C, an engine error: never leave the container behind
            self.stop()
            raise
        host, port = _address(container)
        url = f"{'https' if self.ca else 'http'}://{host}:{port}"
        self.handle = SandboxHandle(url, self.admin_token, "container")
        if self.ca is not None:
            tls_trust.register(url, self.ca.ca_file)
            tls_trust.trust_control(self.handle, self.ca.ca_file)
        self.ready_after = time.monotonic() - started
        return self.handle

    def logs(self, lines: int = LOG_LINES) -> str:
        """The container's last log lines (stdout and stderr, interleaved)."""
        if self._container is None or self._container._container is None:
            return ""
        raw = self._container.get_wrapped_container().logs(tail=lines)
        return raw.decode("utf-8", "replace").rstrip()

    def stop(self) -> None:
        if self.handle is not None:
            tls_trust.unregister(self.handle.base_url)
            self.handle.close()
            self.handle = None
        container, self._container = self._container, None
        if self.ca is not None and container is None:
            self.ca.close()
            self.ca = None
        if container is None:
            return
        with contextlib.suppress(Exception):  # already gone, or the engine went away with it
            if container._container is not None:
                container._container.remove(force=True, v=True)
        with contextlib.suppress(Exception):
            container.get_docker_client().client.close()
        if self.ca is not None:
            self.ca.close()
            self.ca = None

    def __enter__(self) -> SandboxHandle:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _mounted_contract(self) -> Path | None:
        """The contract file mounted into the container; None when the image's own is served."""
        if self.contract_file is None or self.contract_file == default_contract_path().resolve():
            return None
        return self.contract_file

    def _last_logs(self) -> str:
        try:
            text = self.logs()
        except Exception as exc:  # the engine may be the thing that failed
            return f"(its log could not be read: {exc})"
        if not text:
            return "It logged nothing."
        return f"Its log (at most the last {LOG_LINES} lines):\n" + "\n".join(
            f"  | {line}" for line in text.splitlines()
        )


@contextlib.contextmanager
def container(
    contract: Contract | str | Path | None = None,
    admin_token: str | None = None,
    *,
    seed: int | None = None,
    image: str | None = None,
    start_timeout: float = START_TIMEOUT,
    tls: bool = False,
) -> Iterator[SandboxHandle]:
    runtime = ContainerSandbox(
        contract, admin_token, seed=seed, image=image, start_timeout=start_timeout, tls=tls
    )
    try:
        yield runtime.start()
    finally:
        runtime.stop()


def reap_orphans(client: Any) -> list[str]:
    """Remove sandbox containers started on this host by processes that no longer exist.

    This is what Ryuk would do for a test session that was killed before it could clean up.
    Containers of live processes, and of other hosts sharing the engine, are left alone.
    """
    removed = []
    host = socket.gethostname()
    for found in client.containers.list(all=True, filters={"label": LABEL}):
        owner_host, _, pid = found.labels.get(OWNER_LABEL, "").rpartition(":")
        if owner_host != host or not pid.isdigit() or _alive(int(pid)):
            continue
        with contextlib.suppress(Exception):
            found.remove(force=True, v=True)
            removed.append(found.id)
    return removed


class _NotReady(HarnessError):
    """Raised by the wait strategy; the runtime turns it into a ContainerError with the logs."""


_WAIT_CLASS: Any = None


def _health_wait(ca: tls_trust.RunCA | None = None) -> Any:
    """A testcontainers wait strategy: health answers 200, or the container has exited (fail fast).

    testcontainers' own HttpWaitStrategy keeps polling a container that has already died until
    its timeout runs out; this one looks at the container's state on every poll.
    """
    global _WAIT_CLASS
    if _WAIT_CLASS is None:
        from testcontainers.core.waiting_utils import WaitStrategy

        class SandboxHealthWait(WaitStrategy):
            ca: tls_trust.RunCA | None = None  # set per instance by _health_wait

            def wait_until_ready(self, container: Any) -> None:
                deadline = time.monotonic() + self._startup_timeout
                url = None
                ca = self.ca  # per instance: the class is made once, for every container
                verify = ca.client_context() if ca is not None else True
                with httpx.Client(timeout=1.0, verify=verify) as http:
                    while True:
                        wrapped = container.get_wrapped_container()
                        wrapped.reload()
                        if wrapped.status in ("exited", "dead", "removing"):
                            code = wrapped.attrs.get("State", {}).get("ExitCode")
                            raise _NotReady(f"exited with status {code} before it was ready.")
                        # past the deadline, a first answer now is not an answer within it (a
                        # slow engine can take longer to report the container running than
                        # the sandbox takes to start)
                        if wrapped.status == "running" and time.monotonic() <= deadline:
                            if url is None:
                                host, port = _address(container)
                                url = f"{'https' if ca else 'http'}://{host}:{port}{HEALTH_PATH}"
                            with contextlib.suppress(httpx.HTTPError):
                                if http.get(url).status_code == 200:
                                    return
                        if time.monotonic() > deadline:
                            where = (
                                f"GET {url}"
                                if url
                                else "the engine reported it running only after that"
                                if wrapped.status == "running"
                                else "it never reached the running state"
                            )
                            raise _NotReady(
                                f"was not ready within {self._startup_timeout:g} s ({where} did not answer "
                                "200)."
                            )
                        time.sleep(self._poll_interval)

        _WAIT_CLASS = SandboxHealthWait
    wait = _WAIT_CLASS()
    wait.ca = ca
    return wait


def _engine_hosts(client: Any) -> tuple[str, ...]:
    """Every address the harness may reach a published port at, for the certificate: loopback,
    the engine's host (DOCKER_HOST), and the default bridge's gateway (what testcontainers uses
    when the harness itself runs in a container)."""
    hosts = ["127.0.0.1", "localhost"]
    docker_host = urlsplit(os.environ.get("DOCKER_HOST", "")).hostname
    if docker_host:
        hosts.append(docker_host)
    with contextlib.suppress(Exception):
        for config in client.networks.get("bridge").attrs["IPAM"]["Config"]:
            if config.get("Gateway"):
                hosts.append(config["Gateway"])
            elif config.get("Subnet"):  # the engine gives the bridge the subnet's first address
                hosts.append(str(ipaddress.ip_network(config["Subnet"])[1]))
    return tuple(dict.fromkeys(hosts))


def _address(container: Any) -> tuple[str, int]:
    host = container.get_container_host_ip()
    # "localhost" may resolve to ::1 first; the engine publishes the port on IPv4 for certain.
    return ("127.0.0.1" if host == "localhost" else host), int(container.get_exposed_port(PORT))


def _ryuk_off_unless_configured() -> None:
    if "TESTCONTAINERS_RYUK_DISABLED" in os.environ:
        return
    os.environ["TESTCONTAINERS_RYUK_DISABLED"] = "true"
    from testcontainers.core.config import testcontainers_config

    testcontainers_config.ryuk_disabled = True  # it may have read the environment already


def _docker_client() -> Any:
    try:
        import docker
        import testcontainers  # noqa: F401  (the runtime needs it; say so before anything starts)
    except ImportError:
        raise ContainerError(
            "the container runtime needs testcontainers: pip install 'connector-harness[container]'",
            "testcontainers is not installed",
        ) from None
    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ContainerError(
            f"no Docker engine answers ({reason[:200]}): start Docker (or set DOCKER_HOST) and try again",
            "no Docker engine answers",
        ) from None
    return client


def _has_image(client: Any, image: str) -> bool:
    import docker.errors

    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return False
    return True


def _missing_image(image: str) -> str:
    return f"the sandbox image {image} does not exist; build it with `{build_hint(image)}`"


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
