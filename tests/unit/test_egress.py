"""Egress recording by the embedded runtime (SEC-02's evidence): httpx traffic only."""

from __future__ import annotations

import httpx
import pytest

from harness.runtime import embedded
from harness.runtime.handle import SandboxHandle


def test_other_hosts_are_recorded_and_blocked_while_the_sandbox_passes(platform_contract):
    with embedded(platform_contract) as handle:
        assert handle.egress() == []
        with handle.recording_egress() as observed:
            assert observed is True
            assert handle.health()  # the sandbox itself passes through
            with pytest.raises(httpx.ConnectError, match="blocked"):
                httpx.post("https://u:pw@telemetry.example.com/ping?key=s3cret#x", json={"a": 1})
        host = "telemetry.example.com"
        assert handle.egress() == [{"method": "POST", "url": f"https://{host}/ping?key=****", "host": host}]
        with handle.recording_egress():  # each recording starts empty
            pass
        assert handle.egress() == []


def test_a_runtime_without_a_recorder_says_it_cannot_observe_egress():
    handle = SandboxHandle("http://127.0.0.1:9", "admin", "url")
    try:
        assert handle.egress() is None
        with handle.recording_egress() as observed:
            assert observed is False
    finally:
        handle.close()


EGRESS_CONNECTOR = """
import socket, urllib.request

class Phones:
    def __init__(self, config, sink):
        self.config, self.sink = config, sink

    def sync(self, state):
        outcomes = {}
        for name, attempt in (
            ("ip", lambda: socket.create_connection(("203.0.113.7", 443), timeout=2)),
            ("name", lambda: urllib.request.urlopen("http://telemetry.example.com/ping", timeout=2)),
            ("loopback", lambda: socket.create_connection(("127.0.0.1", 9), timeout=2)),
        ):
            try:
                attempt()
                outcomes[name] = "connected"
            except OSError as exc:
                outcomes[name] = str(exc)
        self.sink.log("info", "tried", **outcomes)
"""


def test_a_python_worker_refuses_and_reports_connections_to_other_hosts(tmp_path):
    from harness.connectors import PythonConnector, Replica
    from harness.connectors.manifest import Manifest

    (tmp_path / "phones.py").write_text(EGRESS_CONNECTOR)
    described = Manifest(
        file=str(tmp_path / "connector.toml"),
        root=tmp_path,
        name="phones",
        version="1",
        scopes=(),
        streams=("contacts",),
        python="phones:Phones",
    )
    connector = PythonConnector(described, {"base_url": "http://127.0.0.1:9/t/x"}, Replica(), 20)
    assert connector.capabilities.observes_egress
    connector.sync(None)
    egress = connector.egress()
    connector.close()
    tried = connector.sink.logs[0]
    assert "egress to 203.0.113.7 is blocked" in tried["ip"]
    assert "egress to telemetry.example.com is blocked" in tried["name"]
    assert "blocked" not in tried["loopback"]  # the platform's side of the machine is reachable
    assert {(e["host"], e["port"]) for e in egress} == {("203.0.113.7", 443), ("telemetry.example.com", 80)}


def test_a_command_connector_says_its_egress_cannot_be_observed(tmp_path):
    from harness.connectors import CommandConnector, Replica
    from harness.connectors.manifest import Manifest

    described = Manifest(
        file=str(tmp_path / "connector.toml"),
        root=tmp_path,
        name="cmd",
        version="1",
        scopes=(),
        streams=("contacts",),
        command=("true",),
    )
    connector = CommandConnector(described, {}, Replica(), 20)
    assert connector.egress() is None and not connector.capabilities.observes_egress
    connector.close()


HIDDEN_EGRESS_CONNECTOR = """
import socket, subprocess, sys

class Hidden:
    def __init__(self, config, sink):
        self.config, self.sink = config, sink

    def sync(self, state):
        outcomes = {}
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for name, attempt in (
            # statsd-style telemetry: a datagram, no connect()
            ("udp", lambda: udp.sendto(b"syncs:1|c", ("203.0.113.9", 8125))),
            # a URL of the manifest's own [connector.config] is not the platform
            ("configured", lambda: socket.create_connection(("telemetry.example.com", 443), timeout=2)),
            ("lookup", lambda: socket.gethostbyname("metrics.example.com")),
        ):
            try:
                attempt()
                outcomes[name] = "sent"
            except OSError as exc:
                outcomes[name] = str(exc)
        udp.close()
        if state == "spawn":
            subprocess.run([sys.executable, "-c", "pass"], check=True)
        self.sink.log("info", "tried", **outcomes)
"""


def _hidden(tmp_path):
    from harness.connectors import PythonConnector, Replica
    from harness.connectors.manifest import Manifest

    (tmp_path / "hidden.py").write_text(HIDDEN_EGRESS_CONNECTOR)
    described = Manifest(
        file=str(tmp_path / "connector.toml"),
        root=tmp_path,
        name="hidden",
        version="1",
        scopes=(),
        streams=("contacts",),
        python="hidden:Hidden",
    )
    config = {"base_url": "http://127.0.0.1:9/t/x", "telemetry_url": "https://telemetry.example.com/v1"}
    return PythonConnector(described, config, Replica(), 20)


def test_datagrams_lookups_and_hosts_of_the_manifests_own_config_are_egress(tmp_path):
    connector = _hidden(tmp_path)
    connector.sync(None)
    egress, blind = connector.egress(), connector.unobserved()
    connector.close()
    tried = connector.sink.logs[0]
    assert all("blocked under certification" in tried[k] for k in ("udp", "configured", "lookup")), tried
    assert {(e["host"], e["event"]) for e in egress or []} == {
        ("203.0.113.9", "socket.sendto"),
        ("telemetry.example.com", "socket.getaddrinfo"),
        ("metrics.example.com", "socket.gethostbyname"),
    }
    assert blind == []  # everything it did, the audit hook saw


def test_a_started_process_is_a_blind_spot_the_driver_names(tmp_path):
    connector = _hidden(tmp_path)
    connector.sync("spawn")
    blind = connector.unobserved()
    connector.close()
    assert blind and "it started a process (subprocess.Popen)" in blind[0]


CTYPES_CONNECTOR = """
import ctypes, ctypes.util

class Native:
    def __init__(self, config, sink):
        self.config, self.sink = config, sink

    def sync(self, state):
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        if state == "socket":
            libc.connect  # the C library's connect(): no audit event when it is called
        else:
            libc.getpid()  # harmless: what trio's thread naming through libpthread looks like
"""


def test_ctypes_is_a_blind_spot_only_when_it_reaches_for_sockets(tmp_path):
    from harness.connectors import PythonConnector, Replica
    from harness.connectors.manifest import Manifest

    (tmp_path / "native.py").write_text(CTYPES_CONNECTOR)
    described = Manifest(
        file=str(tmp_path / "connector.toml"),
        root=tmp_path,
        name="native",
        version="1",
        scopes=(),
        streams=("contacts",),
        python="native:Native",
    )
    harmless = PythonConnector(described, {"base_url": "http://127.0.0.1:9/t/x"}, Replica(), 20)
    harmless.sync(None)
    assert harmless.unobserved() == []
    harmless.close()
    reaching = PythonConnector(described, {"base_url": "http://127.0.0.1:9/t/x"}, Replica(), 20)
    reaching.sync("socket")
    blind = reaching.unobserved()
    reaching.close()
    assert blind == ["it used native code through ctypes (calling connect()), which opens sockets unseen"]
