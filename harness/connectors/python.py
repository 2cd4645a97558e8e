"""Drive a Python connector: `Cls(config, sink)` in a worker process, each call under a time limit.

The class is imported and built in `python -m harness.connectors.worker`, started in the
connector's clean room, never in the harness: nothing the harness judges or signs with is
reachable from it. A crash, `os._exit`, a leaked thread or a hang ends only the worker; the call
fails with the connector's traceback (file and line), and the next call starts a fresh worker.

Starting Python and importing the connector takes a fraction of a second, which a certification
pays for every driver; a spare worker that has already imported the connector waits for the
next driver, so building one costs a message, not a process start.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from harness.connectors.cleanroom import MemoryWatch, Room, StderrTail, end_leftovers
from harness.connectors.driver import Capabilities, Diagnostics
from harness.connectors.errors import ConnectorFailed, ConnectorLoadError, ConnectorTimeout, remote_error
from harness.connectors.manifest import Manifest
from harness.connectors.protocol import SINK_TYPES, Channel, Deadline, ProtocolError, apply, parse
from harness.connectors.replica import Replica

DEFAULT_TIMEOUT = 60.0
LOAD_TIMEOUT = 60.0  # seconds the worker may take to start and import the connector


class _Ended(Exception):
    """The worker's protocol channel closed: the process is gone."""

    def __init__(self, status: int | None, traceback_text: str = "") -> None:
        self.status, self.traceback_text = status, traceback_text


@dataclass
class _Worker:
    """One worker process in its clean room, with its protocol channel and stderr tail."""

    room: Room
    proc: subprocess.Popen[bytes]
    channel: Channel
    stderr: StderrTail
    egress: list[dict[str, Any]] = field(default_factory=list)
    loaded: dict[str, Any] | None = None
    spawned: bool = False  # the connector started a process (or used ctypes) at some point

    @classmethod
    def start(cls, manifest: Manifest) -> _Worker:
        assert manifest.python
        paths = [str(manifest.root), *(str(manifest.root / p) for p in manifest.python_path)]
        room = Room(readable=[sys.executable, manifest.root])
        proc = room.popen(
            [sys.executable, "-B", "-m", "harness.connectors.worker"], cwd=room.home, stdin=subprocess.PIPE
        )
        assert proc.stdout is not None and proc.stderr is not None
        worker = cls(room, proc, Channel(proc.stdout.fileno()), StderrTail(proc.stderr))
        worker.write({"op": "load", "python": manifest.python, "path": paths, "more_path": sys.path})
        return worker

    def write(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(message, default=str) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # the worker is gone; reading its channel says how

    def read(self, sink: Replica | None, deadline: float) -> dict[str, Any]:
        """Apply sink messages until the reply (RESULT, ERROR, READY, LOADED) arrives."""
        exit_traceback = ""
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
            elif kind == "EXIT":
                exit_traceback = str(message.get("traceback", ""))
            else:
                return message
        self.proc.wait(timeout=10)
        self.stderr.join()
        raise _Ended(self.proc.returncode, exit_traceback)

    def alive(self) -> bool:
        return self.proc.poll() is None and not self.channel.eof

    def close(self) -> None:
        self.room.close()
        self.stderr.join(1)


_spares: dict[tuple[Any, ...], _Worker] = {}
_spares_lock = threading.Lock()


def _key(manifest: Manifest) -> tuple[Any, ...]:
    """A spare serves drivers of the same connector while its folder is unchanged."""
    try:
        changed = manifest.root.stat().st_mtime_ns
    except OSError:
        changed = 0
    return (manifest.file, str(manifest.root), manifest.python, manifest.python_path, changed)


def _take(manifest: Manifest) -> _Worker:
    """A worker that has imported the connector (or failed to); another spare starts meanwhile."""
    with _spares_lock:
        worker = _spares.pop(_key(manifest), None)
        if worker is None or not worker.alive():
            if worker is not None:
                worker.close()
            worker = _Worker.start(manifest)
        _spares[_key(manifest)] = _Worker.start(manifest)
    return worker


@atexit.register
def _close_spares() -> None:
    with _spares_lock:
        for worker in _spares.values():
            worker.close()
        _spares.clear()


def _load_error(manifest: Manifest, reply: dict[str, Any] | None, worker: _Worker) -> ConnectorLoadError:
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
        self._egress: list[dict[str, Any]] = []
        self._peak_kib = 0
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
        return Diagnostics(stderr=tuple(lines[-200:]), peak_kib=self._peak_kib)

    def egress(self) -> list[dict[str, Any]] | None:
        return list(self._egress) + (list(self._worker.egress) if self._worker else [])

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

    def _start(self, fresh: bool = False) -> None:
        worker = _Worker.start(self.manifest) if fresh else _take(self.manifest)
        deadline = time.monotonic() + max(self.timeout, LOAD_TIMEOUT)
        try:
            loaded = worker.loaded or worker.read(None, deadline)
        except (_Ended, Deadline, ProtocolError):
            self._retire(worker)
            raise _load_error(self.manifest, None, worker) from None
        if loaded["type"] != "LOADED" and not fresh:
            self._retire(worker)  # a spare that failed may predate a fix: ask a fresh worker
            return self._start(fresh=True)
        if loaded["type"] != "LOADED":
            self._retire(worker)
            raise _load_error(self.manifest, loaded, worker)
        worker.loaded = loaded
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
        self._peak_kib = max(self._peak_kib, int(reply.get("peak_kib") or 0))
        if reply["type"] == "ERROR":
            raise ConnectorFailed(label, remote_error(reply), str(reply.get("traceback", "")))
        return reply.get("value")

    def _reply(self, worker: _Worker, label: str, timeout: float) -> dict[str, Any]:
        """The worker's answer to the last request; a hang, exit or flood ends the worker."""
        watch = MemoryWatch(worker.proc.pid) if self.sample_memory else None
        try:
            return worker.read(self.sink, time.monotonic() + timeout)
        except Deadline:
            self._retire(worker)
            raise ConnectorTimeout(label, timeout) from None
        except _Ended as ended:
            self._retire(worker)
            detail = ended.traceback_text or "\n".join(list(worker.stderr.lines)[-20:])
            why = "called os._exit" if ended.traceback_text else "ended"
            raise ConnectorFailed(
                label,
                RuntimeError(f"the connector's process {why} during the call (exit status {ended.status})"),
                detail,
            ) from None
        except ProtocolError as exc:  # a flood, or a sink message the replica refuses
            self._retire(worker)
            raise ConnectorFailed(label, exc, "\n".join(list(worker.stderr.lines)[-20:])) from None
        except Exception as exc:  # SinkError and the like: the connector wrote wrongly
            self._retire(worker)
            raise ConnectorFailed(label, exc, "") from None
        finally:
            if watch is not None:
                self._peak_kib = max(self._peak_kib, watch.stop())
            if worker.spawned:
                end_leftovers(worker.proc.pid)  # nothing a call started outlives it

    def _retire(self, worker: _Worker) -> None:
        worker.close()
        self._egress += worker.egress
        self._stderr = (self._stderr + list(worker.stderr.lines))[-200:]
        if worker is self._worker:
            self._worker = None
        worker.egress = []
