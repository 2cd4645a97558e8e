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
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from harness.connectors.cleanroom import Room, StderrTail
from harness.connectors.driver import Capabilities, Diagnostics
from harness.connectors.errors import ConnectorFailed, ConnectorLoadError, ConnectorTimeout
from harness.connectors.manifest import Manifest
from harness.connectors.protocol import Channel, Deadline, OutputLimit, ProtocolError, apply, parse
from harness.connectors.replica import Replica
from harness.connectors.watches import Watched

SERVE_START = 15.0  # seconds `CMD serve` gets to start listening

__all__ = ["CommandConnector", "ProtocolError", "resolve_command"]


class CommandConnector:
    def __init__(
        self, manifest: Manifest, config: dict[str, Any], sink: Replica, timeout: float = 60.0
    ) -> None:
        if not manifest.command:
            raise ConnectorLoadError(f"{manifest.file}: no command to run")
        self.manifest, self.config, self.sink, self.timeout = manifest, config, sink, timeout
        self.sample_memory = False
        self.sample_waits = False
        self._watched = Watched()
        self.argv = resolve_command(manifest)
        self.room = Room(readable=[Path(self.argv[0]), manifest.root])
        self.stderr: deque[str] = deque(maxlen=200)
        self._server: subprocess.Popen[bytes] | None = None  # `CMD serve`, started on the first webhook
        self._serve_reader: threading.Thread | None = None
        self._serve_tail: StderrTail | None = None
        self._serve_failures: list[BaseException] = []
        self._serve_lock = threading.Lock()
        self._serve_eof = False
        self._port = 0

    # -- the Driver protocol ------------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        """What the manifest declares: the harness cannot ask a command before running it."""
        return Capabilities(
            push=bool(self.manifest.pushes), webhooks=bool(self.manifest.webhooks), observes_egress=False
        )

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

    def diagnostics(self) -> Diagnostics:
        lines = [*self.stderr, *(self._serve_tail.lines if self._serve_tail else ())]
        return self._watched.diagnostics(lines)

    def egress(self) -> list[dict[str, Any]] | None:
        """A command's own process makes its own connections: the harness cannot see them."""
        return None

    def unobserved(self) -> list[str]:
        return [
            "this connector runs as its own command, whose outbound connections the harness cannot observe"
        ]

    def webhook_url(self) -> str:
        """Where `CMD serve` takes deliveries; starts the server on first use."""
        if self._server is None:
            self._start_server()
        return f"http://127.0.0.1:{self._port}{self.manifest.webhook_path}"

    def close(self) -> None:
        """Stop `CMD serve` and everything any call left running; remove the clean room."""
        server, self._server = self._server, None
        if server is not None:
            self.room.kill(server)
            if self._serve_reader is not None:
                self._serve_reader.join(timeout=5)
        self.room.close()

    # -- processes ------------------------------------------------------------------------------

    def _spawn(self, argv: list[str], **options: Any) -> subprocess.Popen[Any]:
        """Start the connector in its clean room, from its manifest's folder (so it reaches its
        own files by relative path), in a session of its own."""
        if shutil.which(argv[0], path=os.environ.get("PATH")) is None:
            raise ConnectorLoadError(
                f"{self.manifest.file}: cannot run {argv[0]!r}: no such executable (a path starting with "
                f"./ resolves from {self.manifest.root}; anything else is looked up on PATH)"
            )
        try:
            return self.room.popen(argv, cwd=self.manifest.root, **options)
        except OSError as exc:
            raise ConnectorLoadError(
                f"{self.manifest.file}: cannot run {argv[0]!r}: {exc.strerror}"
            ) from None

    def _start_server(self) -> None:
        config_file = self.room.private_file("serve-config.json", json.dumps(self.config))
        self._port = _free_port()
        argv = [*self.argv, "serve", "--config", str(config_file), "--port", str(self._port)]
        server = self._spawn(argv, stdin=subprocess.DEVNULL)
        self._server = server
        self._serve_failures, self._serve_eof = [], False
        self._serve_reader = threading.Thread(target=self._read_serve_stdout, args=(server,), daemon=True)
        self._serve_reader.start()
        self._serve_tail = StderrTail(server.stderr)
        deadline = time.monotonic() + min(self.timeout, SERVE_START)
        while True:
            if server.poll() is not None:
                self._drain()
                self._serve_tail.join()
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
        fd = server.stdout.fileno()
        channel = Channel(fd)
        while True:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if not ready:
                continue
            with self._serve_lock:
                try:
                    for line in channel.lines(time.monotonic()):
                        if line.strip() and not self._serve_failures:
                            apply(parse(line, channel.number), self.sink, channel.number)
                except Deadline:
                    continue
                except OutputLimit as exc:
                    self._serve_failures.append(exc)
                    self.room.kill(server)
                    self._serve_eof = True
                    return
                except Exception as exc:  # protocol and sink errors fail the next call
                    if not self._serve_failures:
                        self._serve_failures.append(exc)
                    if channel.eof:
                        self._serve_eof = True
                        return
                    continue
                if channel.eof:
                    self._serve_eof = True
                    return

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
        """One call: the command in its clean room, its stdout applied to the sink as it comes,
        under the time limit; a flood, garbage or a non-zero exit fails the call."""
        config_file = self.room.private_file("config.json", json.dumps(self.config))
        argv = [*self.argv, verb, "--config", str(config_file)]
        if state is not None:
            state_file = self.room.private_file("state.json", json.dumps(state))
            argv += ["--state", str(state_file)]
        if stream is not None:
            argv += ["--stream", stream]
        proc = self._spawn(argv, stdin=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdin is not None
        tail = StderrTail(proc.stderr)
        feeder = threading.Thread(target=_feed, args=(proc.stdin, (stdin or "").encode()), daemon=True)
        feeder.start()
        stop_watches = self._watched.start(proc.pid, memory=self.sample_memory, waits=self.sample_waits)
        channel = Channel(proc.stdout.fileno())
        failure: BaseException | None = None
        try:
            self._consume(proc, channel, time.monotonic() + self.timeout)
        except Deadline:
            self.room.kill(proc)
            self._keep(tail)
            raise ConnectorTimeout(f"{' '.join(self.manifest.command or ())} {verb}", self.timeout) from None
        except Exception as exc:  # protocol errors, floods and sink errors all fail the call
            failure = exc
        finally:
            stop_watches()
            self.room.kill(proc)  # the call is over: nothing it started outlives it
        self._keep(tail)
        if failure is not None:
            raise ConnectorFailed(verb, failure, self._stderr_text())
        if proc.returncode != 0:
            raise ConnectorFailed(
                verb, RuntimeError(f"exited with status {proc.returncode}"), self._stderr_text()
            )

    def _consume(self, proc: subprocess.Popen[bytes], channel: Channel, end: float) -> None:
        """Apply stdout until it closes, or until the process has exited and what it printed is
        read (a grandchild holding stdout open does not keep the call alive); Deadline at `end`."""
        exited = False
        while True:
            try:
                for line in channel.lines(min(end, time.monotonic() + (0.05 if exited else 0.2))):
                    if line.strip():
                        apply(parse(line, channel.number), self.sink, channel.number)
                proc.wait(timeout=max(0.0, end - time.monotonic()) + 0.01)
                return
            except subprocess.TimeoutExpired:
                raise Deadline() from None
            except Deadline:
                if exited:
                    return
                if proc.poll() is not None:
                    exited = True  # read what is already there, then stop
                elif time.monotonic() >= end:
                    raise

    def _keep(self, tail: StderrTail) -> None:
        tail.join()
        self.stderr.extend(tail.lines)

    def _stderr_text(self) -> str:
        lines = [*self.stderr, *(self._serve_tail.lines if self._serve_tail else ())]
        return "\n".join(lines[-200:])


def _feed(stdin: Any, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError, OSError, ValueError):
        stdin.write(data)
        stdin.close()


def resolve_command(manifest: Manifest) -> list[str]:
    """`python`/`python3` run the harness's own interpreter; `./x` resolves from the manifest."""
    assert manifest.command
    first, *rest = manifest.command
    if first in ("python", "python3"):
        first = sys.executable
    elif first.startswith(("./", "../")):
        first = str((manifest.root / first).resolve())
    return [first, *rest]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
