"""Drive a Python connector: `Cls(config, sink)` in a worker process, each call under a time limit.

The class is imported and built in `python -m harness.connectors.worker`, started in the
connector's clean room, never in the harness: nothing the harness judges or signs with is
reachable from it. A crash, `os._exit`, a leaked thread or a hang ends only the worker; the call
fails with the connector's traceback (file and line), and the next call starts a fresh worker.

Starting Python and importing the connector takes a fraction of a second, which a certification
would pay for every driver; instead one process per connector (the zygote) imports it once and
forks a worker per driver, in a session of its own with a private HOME, so building a driver
costs a fork, not an interpreter.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.connectors.cleanroom import (
    Room,
    StderrTail,
    await_gone,
    end_leftovers,
    gone,
    kill_tree,
    private_home,
    sweep_orphans,
)
from harness.connectors.driver import Capabilities, Diagnostics
from harness.connectors.errors import ConnectorFailed, ConnectorLoadError, ConnectorTimeout, remote_error
from harness.connectors.manifest import Manifest
from harness.connectors.protocol import SINK_TYPES, Channel, Deadline, ProtocolError, apply, parse
from harness.connectors.replica import Replica
from harness.connectors.watches import Watched
from harness.core.errors import HarnessError

DEFAULT_TIMEOUT = 60.0
LOAD_TIMEOUT = 60.0  # seconds the worker may take to start and import the connector


def unobserved_reason(event: str) -> str:
    """Why an event of the worker (SPAWNED, BLIND) hides connections from its audit hook."""
    if event.startswith("import "):
        return (
            f"it imported {event.removeprefix('import ')}, a native network client whose sockets "
            "are opened by C code the worker's audit hook does not see"
        )
    if event.startswith("ctypes"):
        native = event.removeprefix("ctypes ")
        return f"it used native code through ctypes ({native}), which opens sockets unseen"
    return f"it started a process ({event}), whose connections the worker's audit hook does not see"


class _Ended(HarnessError):
    """The worker's protocol channel closed: the process is gone."""

    def __init__(self, status: int | None, traceback_text: str = "") -> None:
        self.status, self.traceback_text = status, traceback_text


class _Zygote:
    """The process that has imported one connector and forks a worker per driver."""

    def __init__(self, manifest: Manifest) -> None:
        assert manifest.python
        paths = [str(manifest.root), *(str(manifest.root / p) for p in manifest.python_path)]
        self.room = Room(readable=[Path(sys.executable), manifest.root])
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = self.room.popen(
                [sys.executable, "-B", "-m", "harness.connectors.worker"],
                cwd=self.room.home,
                stdin=theirs.fileno(),
                stdout=subprocess.DEVNULL,
            )
        finally:
            theirs.close()
        assert self.proc.stderr is not None
        self.stderr = StderrTail(self.proc.stderr)
        self.egress: list[dict[str, Any]] = []  # attempted while the connector was imported
        self.blind: list[str] = []  # what it did on import that hides connections (a process started)
        self.lock = threading.Lock()
        self.send({"op": "load", "python": manifest.python, "path": paths, "more_path": sys.path})
        self.loaded: dict[str, Any] | None = None

    def send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        socket.send_fds(self.sock, [json.dumps(message).encode()], fds or [])

    def recv(self, deadline: float) -> dict[str, Any]:
        while True:
            ready, _, _ = select.select([self.sock], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise Deadline()
            data = self.sock.recv(1 << 20)
            if not data:
                raise _Ended(None)
            message = json.loads(data)
            if message.get("type") == "EGRESS":
                self.egress.append({k: message.get(k) for k in ("host", "port", "event")})
            elif message.get("type") == "BLIND":
                self.blind.append(str(message.get("event")))
            elif message.get("type") != "EXIT":
                return dict(message)

    def load(self, deadline: float) -> dict[str, Any]:
        with self.lock:  # drivers start from several threads at once: one reads the reply
            if self.loaded is None:
                self.loaded = self.recv(deadline)
            return self.loaded

    def fork(self, deadline: float) -> _Worker:
        home = private_home(self.room.user)
        requests, replies, stderr = os.pipe(), os.pipe(), os.pipe()
        with self.lock:
            try:
                self.send({"op": "fork", "home": home}, [requests[0], replies[1], stderr[1]])
            finally:
                for fd in (requests[0], replies[1], stderr[1]):
                    os.close(fd)
            reply = self.recv(deadline)
        return _Worker(
            pid=int(reply["pid"]),
            home=home,
            requests=os.fdopen(requests[1], "wb", buffering=0),
            channel=Channel(replies[0]),
            stderr=StderrTail(os.fdopen(stderr[0], "rb", buffering=0)),
            egress=list(self.egress),
            blind=list(self.blind),
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        self.room.close()
        self.sock.close()


@dataclass
class _Worker:
    """One forked worker in its own session, with its protocol channel and stderr tail."""

    pid: int
    home: str
    requests: Any
    channel: Channel
    stderr: StderrTail
    egress: list[dict[str, Any]] = field(default_factory=list)
    spawned: bool = False  # the connector started a process (or used ctypes) at some point
    blind: list[str] = field(default_factory=list)  # events that hide connections from the audit hook

    def write(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(BrokenPipeError, ValueError, OSError):  # gone: reading says how
            self.requests.write((json.dumps(message, default=str) + "\n").encode())

    def read(self, sink: Replica | None, deadline: float) -> dict[str, Any]:
        """Apply sink messages until the reply (RESULT, ERROR, READY) arrives."""
        exit_message: dict[str, Any] = {}
        for line in self.channel.lines(deadline):
            if not line.strip():
                continue
            message = parse(line, self.channel.number)
            kind = message["type"]
            if kind in SINK_TYPES:
                if sink is None:
                    raise ProtocolError(f"a {kind} message before the connector was built")
                apply(message, sink, self.channel.number)
            elif kind == "EGRESS":
                self.egress.append({k: message.get(k) for k in ("host", "port", "event")})
            elif kind == "SPAWNED":
                self.spawned = True
            elif kind == "BLIND":
                self.blind.append(str(message.get("event")))
            elif kind == "EXIT":
                exit_message = message
            else:
                return message
        self.stderr.join(1)
        raise _Ended(exit_message.get("status"), str(exit_message.get("traceback", "")))

    def alive(self) -> bool:
        return not self.channel.eof and not gone(self.pid)

    def close(self) -> None:
        if self.spawned:
            kill_tree(self.pid)
            sweep_orphans()
        else:  # it started no process: it is alone in its session and process group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
        await_gone(self.pid)
        with contextlib.suppress(OSError):
            self.requests.close()
        with contextlib.suppress(OSError):
            os.close(self.channel.fd)
        self.stderr.join(1)
        shutil.rmtree(self.home, ignore_errors=True)


_zygotes: dict[tuple[Any, ...], _Zygote] = {}
_zygotes_lock = threading.Lock()


def _key(manifest: Manifest) -> tuple[Any, ...]:
    """A zygote serves drivers of the same connector while its folder is unchanged."""
    try:
        changed = manifest.root.stat().st_mtime_ns
    except OSError:
        changed = 0
    return (manifest.file, str(manifest.root), manifest.python, manifest.python_path, changed)


def _zygote_for(manifest: Manifest) -> _Zygote:
    """The running zygote of this connector, or a new one (a dead one, or one whose import
    failed, is replaced: the connector may have been fixed since)."""
    with _zygotes_lock:
        zygote = _zygotes.get(_key(manifest))
        if zygote is None or not zygote.alive():
            if zygote is not None:
                zygote.close()
            zygote = _zygotes[_key(manifest)] = _Zygote(manifest)
    return zygote


@atexit.register
def _close_zygotes() -> None:
    with _zygotes_lock:
        for zygote in _zygotes.values():
            zygote.close()
        _zygotes.clear()


def _load_error(manifest: Manifest, reply: dict[str, Any] | None, worker: _Zygote) -> ConnectorLoadError:
    module_name = (manifest.python or "").partition(":")[0]
    if reply is None:
        detail = worker.stderr.text().strip().splitlines()
        why = detail[-1] if detail else "no output on stderr"
        return ConnectorLoadError(f"{manifest.file}: the worker for {manifest.python} did not start ({why})")
    where = _last_frame(str(reply.get("traceback", "")))
    if reply.get("error") in ("AttributeError", "TypeError") and "has no" in str(reply.get("message")):
        return ConnectorLoadError(f"{manifest.file}: {reply['message']}")
    if reply.get("error") == "TypeError" and "is not a class" in str(reply.get("message")):
        return ConnectorLoadError(f"{manifest.file}: {reply['message']}")
    return ConnectorLoadError(
        f"{manifest.file}: cannot import {module_name!r} ({reply.get('error')}: {reply.get('message')})"
        f"{f' at {where}' if where else ''}; it is looked up from {manifest.root}"
    )


def _last_frame(traceback_text: str) -> str:
    """`File "x.py", line 3, in <module>`: where the traceback ends."""
    frames = [line.strip() for line in traceback_text.splitlines() if line.strip().startswith("File ")]
    return frames[-1] if frames else ""


class PythonConnector:
    """One connector instance, in its own worker, bound to one tenant's config and one replica."""

    def __init__(
        self, manifest: Manifest, config: dict[str, Any], sink: Replica, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.manifest, self.config, self.sink, self.timeout = manifest, config, sink, timeout
        self.sample_memory = False
        self.sample_waits = False
        self._watched = Watched()
        self._egress: list[dict[str, Any]] = []
        self._blind: list[str] = []
        self._stderr: list[str] = []
        self._ready: dict[str, Any] = {}
        self._worker: _Worker | None = None
        self._start()

    # -- the Driver protocol ------------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            push=bool(self._ready.get("push")),
            webhooks=bool(self._ready.get("webhooks")),
            observes_egress=True,
        )

    def check(self) -> None:
        self._call("check", [], "check()")

    def sync(self, state: Any = None) -> None:
        self._call("sync", [state], "sync(state)")

    def push(self, stream: str, records: list[dict[str, Any]]) -> Any:
        if not self.capabilities.push:
            raise ConnectorFailed(
                "push(stream, records)", AttributeError(f"{self.manifest.python} has no push()")
            )
        return self._call("push", [stream, list(records)], "push(stream, records)")

    def handle_webhook(self, headers: dict[str, str], body: bytes) -> int:
        """Deliver one webhook; the connector's answer is the HTTP status it would send."""
        if not self.capabilities.webhooks:
            raise ConnectorFailed(
                "handle_webhook(headers, body)",
                AttributeError(f"{self.manifest.python} has no handle_webhook()"),
            )
        args = [dict(headers), base64.b64encode(bytes(body)).decode()]
        return int(self._call("handle_webhook", args, "handle_webhook(headers, body)"))

    def diagnostics(self) -> Diagnostics:
        if self._worker is not None:
            self._worker.stderr.settle()
        lines = self._stderr + (list(self._worker.stderr.lines) if self._worker else [])
        return self._watched.diagnostics(lines)

    def egress(self) -> list[dict[str, Any]] | None:
        return list(self._egress) + (list(self._worker.egress) if self._worker else [])

    def unobserved(self) -> list[str]:
        """Why `egress()` may have missed connections: what the connector did that the worker's
        audit hook cannot follow (a process it started, ctypes, a native network client)."""
        events = self._blind + (list(self._worker.blind) if self._worker else [])
        return [unobserved_reason(event) for event in dict.fromkeys(events)]

    def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            return
        if worker.alive():
            worker.write({"op": "call", "name": "close", "args": []})
            with contextlib.suppress(_Ended, Deadline, ProtocolError, OSError):
                worker.read(self.sink, time.monotonic() + 5)
        self._retire(worker)

    # -- the worker ---------------------------------------------------------------------------

    def _start(self) -> None:
        zygote = _zygote_for(self.manifest)
        deadline = time.monotonic() + max(self.timeout, LOAD_TIMEOUT)
        try:
            loaded = zygote.load(deadline)
        except (_Ended, Deadline, ValueError):
            zygote.close()
            raise _load_error(self.manifest, None, zygote) from None
        if loaded["type"] != "LOADED":
            zygote.close()  # the next driver starts a fresh one
            raise _load_error(self.manifest, loaded, zygote)
        try:
            worker = zygote.fork(deadline)
        except (_Ended, Deadline, OSError):
            zygote.close()
            raise _load_error(self.manifest, None, zygote) from None
        self._worker = worker
        label = f"{self.manifest.python}(config, sink)"
        worker.write({"op": "init", "config": self.config})
        reply = self._reply(worker, label, self.timeout)
        if reply["type"] == "ERROR":
            raise ConnectorFailed(label, remote_error(reply), str(reply.get("traceback", "")))
        self._ready = reply

    def _call(self, name: str, args: list[Any], label: str) -> Any:
        if self._worker is None or not self._worker.alive():
            if self._worker is not None:
                self._retire(self._worker)
                self._worker = None
            self._start()  # the last call ended the worker: a fresh instance, same config
        worker = self._worker
        assert worker is not None
        worker.write({"op": "call", "name": name, "args": args})
        reply = self._reply(worker, label, self.timeout)
        self._watched.saw_peak(int(reply.get("peak_kib") or 0))
        if reply["type"] == "ERROR":
            raise ConnectorFailed(label, remote_error(reply), str(reply.get("traceback", "")))
        return reply.get("value")

    def _reply(self, worker: _Worker, label: str, timeout: float) -> dict[str, Any]:
        """The worker's answer to the last request; a hang, exit or flood ends the worker."""
        stop_watches = self._watched.start(worker.pid, memory=self.sample_memory, waits=self.sample_waits)
        try:
            return worker.read(self.sink, time.monotonic() + timeout)
        except Deadline:
            self._retire(worker)
            raise ConnectorTimeout(label, timeout) from None
        except _Ended as ended:
            self._retire(worker)
            detail = ended.traceback_text or "\n".join(list(worker.stderr.lines)[-20:])
            why = f"called os._exit (exit status {ended.status})" if ended.traceback_text else "ended"
            raise ConnectorFailed(
                label,
                RuntimeError(f"the connector's process {why} during the call"),
                detail,
            ) from None
        except ProtocolError as exc:  # a flood, or a sink message the replica refuses
            self._retire(worker)
            raise ConnectorFailed(label, exc, "\n".join(list(worker.stderr.lines)[-20:])) from None
        except Exception as exc:  # SinkError and the like: the connector wrote wrongly
            self._retire(worker)
            raise ConnectorFailed(label, exc, "") from None
        finally:
            stop_watches()
            if worker.spawned:
                end_leftovers(worker.pid)  # nothing a call started outlives it

    def _retire(self, worker: _Worker) -> None:
        worker.close()
        self._egress += worker.egress
        self._blind += worker.blind
        worker.blind = []
        self._stderr = (self._stderr + list(worker.stderr.lines))[-200:]
        if worker is self._worker:
            self._worker = None
        worker.egress = []
