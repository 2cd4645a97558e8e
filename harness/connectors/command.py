"""Drive a command connector: `CMD check|sync|push --config FILE [--state FILE] [--stream NAME]`.

The connector writes JSON lines on stdout (RECORD, DELETE, STATE, LOG), applied to the sink as
they arrive. Each call has a time limit; on timeout the whole process group is killed. Garbage
on stdout or a non-zero exit is a failure that names the line or quotes stderr.

Webhooks go to `CMD serve --config FILE --port N`, an HTTP server started on the first delivery
(on a free loopback port, in its own process group) and stopped by `close()`; the messages it
prints are applied to the sink the same way.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from harness.connectors.errors import ConnectorFailed, ConnectorLoadError, ConnectorTimeout
from harness.connectors.manifest import Manifest
from harness.connectors.replica import Replica

MAX_LINE = 16 << 20  # one message; a connector that floods without newlines is cut off here
STDERR_TAIL = 200  # lines kept for the report
SERVE_START = 15.0  # seconds `CMD serve` gets to start listening


class ProtocolError(ValueError):
    """A line on stdout that is not a message of the connector protocol."""


class CommandConnector:
    def __init__(
        self, manifest: Manifest, config: dict[str, Any], sink: Replica, timeout: float = 60.0
    ) -> None:
        if not manifest.command:
            raise ConnectorLoadError(f"{manifest.file}: no command to run")
        self.manifest, self.config, self.sink, self.timeout = manifest, config, sink, timeout
        self.argv = resolve_command(manifest)
        self.stderr: deque[str] = deque(maxlen=STDERR_TAIL)
        self._server: subprocess.Popen[bytes] | None = None  # `CMD serve`, started on the first webhook
        self._serve_folder: tempfile.TemporaryDirectory[str] | None = None
        self._serve_reader: threading.Thread | None = None
        self._serve_failures: list[BaseException] = []
        self._serve_lock = threading.Lock()
        self._serve_eof = False
        self._port = 0

    def check(self) -> None:
        self._run("check")

    def sync(self, state: Any = None) -> None:
        self._run("sync", state=state)

    def push(self, stream: str, records: Iterable[dict[str, Any]]) -> None:
        lines = "".join(json.dumps({"type": "RECORD", "stream": stream, "record": r}) + "\n" for r in records)
        self._run("push", stream=stream, stdin=lines)

    def handle_webhook(self, headers: dict[str, str], body: bytes) -> int:
        """Deliver one webhook to `CMD serve` (started on first use); return the status it answered.

        The messages the server prints while it handles the delivery are applied to the sink
        before this returns.
        """
        call = f"serve: POST {self.manifest.webhook_path}"
        url = self.webhook_url()
        try:
            response = httpx.post(url, content=body, headers=headers, timeout=self.timeout)
        except httpx.TimeoutException:
            raise ConnectorTimeout(call, self.timeout) from None
        except httpx.HTTPError as exc:
            self._drain()
            raise ConnectorFailed(call, exc, self._stderr_text()) from None
        self._drain()
        if self._serve_failures:
            raise ConnectorFailed("serve", self._serve_failures[0], self._stderr_text())
        return response.status_code

    def webhook_url(self) -> str:
        """Where `CMD serve` takes deliveries; starts the server on first use."""
        if self._server is None:
            self._start_server()
        return f"http://127.0.0.1:{self._port}{self.manifest.webhook_path}"

    def close(self) -> None:
        """Stop `CMD serve` if it runs; nothing else stays running between calls."""
        server, self._server = self._server, None
        if server is not None:
            _kill(server)
            if self._serve_reader is not None:
                self._serve_reader.join(timeout=5)
        if self._serve_folder is not None:
            self._serve_folder.cleanup()
            self._serve_folder = None

    # -- serve ------------------------------------------------------------------------------------

    def _spawn(self, argv: list[str], **options: Any) -> subprocess.Popen[Any]:
        """Start the connector from its manifest's folder, in a process group of its own (so a
        timeout can kill everything it started), stdout and stderr piped to the harness."""
        try:
            return subprocess.Popen(
                argv,
                cwd=self.manifest.root,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                **options,
            )
        except OSError as exc:
            raise ConnectorLoadError(
                f"{self.manifest.file}: cannot run {argv[0]!r}: {exc.strerror}"
            ) from None

    def _start_server(self) -> None:
        self._serve_folder = tempfile.TemporaryDirectory(prefix="harness-serve-")
        config_file = Path(self._serve_folder.name) / "config.json"
        config_file.write_text(json.dumps(self.config))
        self._port = _free_port()
        argv = [*self.argv, "serve", "--config", str(config_file), "--port", str(self._port)]
        server = self._spawn(argv, stdin=subprocess.DEVNULL)
        self._server = server
        self._serve_failures, self._serve_eof = [], False
        self._serve_reader = threading.Thread(target=self._read_serve_stdout, args=(server,), daemon=True)
        self._serve_reader.start()
        threading.Thread(target=self._read_serve_stderr, args=(server,), daemon=True).start()
        deadline = time.monotonic() + min(self.timeout, SERVE_START)
        while True:
            if server.poll() is not None:
                self._drain()
                self._server = None
                raise ConnectorFailed(
                    "serve",
                    RuntimeError(f"exited with status {server.returncode} before listening"),
                    self._stderr_text(),
                )
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self._port), 0.2):
                return
            if time.monotonic() > deadline:
                self.close()
                raise ConnectorTimeout(
                    f"serve (not listening on port {self._port})", min(self.timeout, SERVE_START)
                )
            time.sleep(0.05)

    def _read_serve_stdout(self, server: subprocess.Popen[bytes]) -> None:
        """Apply the server's messages as they arrive; reading and applying happen under one lock."""
        assert server.stdout is not None
        fd, pending, number = server.stdout.fileno(), b"", 0
        while True:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if not ready:
                continue
            with self._serve_lock:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    self._serve_eof = True
                    return
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    number += 1
                    line = raw.decode("utf-8", "replace")
                    if not line.strip() or self._serve_failures:
                        continue
                    try:
                        self._apply(line + "\n", number)
                    except Exception as exc:  # protocol and sink errors fail the next call
                        self._serve_failures.append(exc)
                if len(pending) > MAX_LINE and not self._serve_failures:
                    self._serve_failures.append(
                        ProtocolError(f"stdout line {number + 1} is longer than {MAX_LINE} bytes")
                    )

    def _read_serve_stderr(self, server: subprocess.Popen[bytes]) -> None:
        assert server.stderr is not None
        for line in server.stderr:
            self.stderr.append(line.decode("utf-8", "replace").rstrip("\n"))

    def _drain(self) -> None:
        """Wait (bounded) until everything the server has printed so far is applied to the sink."""
        if self._server is None or self._server.stdout is None:
            return
        fd = self._server.stdout.fileno()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with self._serve_lock:
                if self._serve_eof or not select.select([fd], [], [], 0)[0]:
                    return
            time.sleep(0.002)

    def _run(
        self, verb: str, *, state: Any = None, stream: str | None = None, stdin: str | None = None
    ) -> None:
        call = f"{verb}"
        with tempfile.TemporaryDirectory(prefix="harness-") as folder:
            config_file = Path(folder) / "config.json"
            config_file.write_text(json.dumps(self.config))
            argv = [*self.argv, verb, "--config", str(config_file)]
            if state is not None:
                state_file = Path(folder) / "state.json"
                state_file.write_text(json.dumps(state))
                argv += ["--state", str(state_file)]
            if stream is not None:
                argv += ["--stream", stream]
            proc = self._spawn(argv, stdin=subprocess.PIPE, text=True, encoding="utf-8", errors="replace")
            failures: list[BaseException] = []
            readers = [
                threading.Thread(target=self._read_stdout, args=(proc, failures), daemon=True),
                threading.Thread(target=self._read_stderr, args=(proc,), daemon=True),
            ]
            for reader in readers:
                reader.start()
            try:
                if proc.stdin is not None:
                    try:
                        proc.stdin.write(stdin or "")
                        proc.stdin.close()
                    except BrokenPipeError:
                        pass
                proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                _kill(proc)
                raise ConnectorTimeout(
                    f"{' '.join(self.manifest.command or ())} {call}", self.timeout
                ) from None
            for reader in readers:
                reader.join(timeout=5)
        if failures:
            raise ConnectorFailed(call, failures[0], self._stderr_text())
        if proc.returncode != 0:
            raise ConnectorFailed(
                call, RuntimeError(f"exited with status {proc.returncode}"), self._stderr_text()
            )

    def _read_stdout(self, proc: subprocess.Popen[str], failures: list[BaseException]) -> None:
        assert proc.stdout is not None
        number = 0
        while True:
            line = proc.stdout.readline(MAX_LINE)
            if not line:
                return
            number += 1
            if not line.strip():
                continue
            try:
                self._apply(line, number)
            except Exception as exc:  # protocol errors and sink errors both fail the call
                failures.append(exc)
                _kill(proc)
                return

    def _read_stderr(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self.stderr.append(line.rstrip("\n"))

    def _apply(self, line: str, number: int) -> None:
        if not line.endswith("\n") and len(line) >= MAX_LINE:
            raise ProtocolError(f"stdout line {number} is longer than {MAX_LINE} bytes")
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            raise ProtocolError(f"stdout line {number} is not JSON: {line[:120]!r}") from None
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "RECORD":
            self.sink.upsert(_field(message, "stream", number), _field(message, "record", number))
        elif kind == "DELETE":
            self.sink.delete(_field(message, "stream", number), _field(message, "id", number))
        elif kind == "STATE":
            self.sink.checkpoint(_field(message, "value", number))
        elif kind == "LOG":
            extra = {k: v for k, v in message.items() if k not in ("type", "level", "message")}
            self.sink.log(str(message.get("level", "info")), str(message.get("message", "")), **extra)
        else:
            raise ProtocolError(
                f"stdout line {number}: unknown message type {kind!r}; expected RECORD, DELETE, STATE or LOG"
            )

    def _stderr_text(self) -> str:
        return "\n".join(self.stderr)


def resolve_command(manifest: Manifest) -> list[str]:
    """`python`/`python3` run the harness's own interpreter; `./x` resolves from the manifest."""
    assert manifest.command
    first, *rest = manifest.command
    if first in ("python", "python3"):
        first = sys.executable
    elif first.startswith(("./", "../")):
        first = str((manifest.root / first).resolve())
    return [first, *rest]


def _field(message: dict[str, Any], name: str, number: int) -> Any:
    if name not in message:
        raise ProtocolError(f"stdout line {number}: a {message['type']} message needs {name!r}")
    return message[name]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _kill(proc: subprocess.Popen[Any]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
