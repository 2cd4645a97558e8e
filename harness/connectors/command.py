"""Drive a command connector: `CMD check|sync|push --config FILE [--state FILE] [--stream NAME]`.

The connector writes JSON lines on stdout (RECORD, DELETE, STATE, LOG), applied to the sink as
they arrive. Each call has a time limit; on timeout the whole process group is killed. Garbage
on stdout or a non-zero exit is a failure that names the line or quotes stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.connectors.errors import ConnectorFailed, ConnectorLoadError, ConnectorTimeout
from harness.connectors.manifest import Manifest
from harness.connectors.replica import Replica

MAX_LINE = 16 << 20  # one message; a connector that floods without newlines is cut off here
STDERR_TAIL = 200  # lines kept for the report


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

    def check(self) -> None:
        self._run("check")

    def sync(self, state: Any = None) -> None:
        self._run("sync", state=state)

    def push(self, stream: str, records: Iterable[dict[str, Any]]) -> None:
        lines = "".join(json.dumps({"type": "RECORD", "stream": stream, "record": r}) + "\n" for r in records)
        self._run("push", stream=stream, stdin=lines)

    def close(self) -> None:
        """Nothing stays running between calls."""

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
            try:
                proc = subprocess.Popen(
                    argv,
                    cwd=self.manifest.root,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    encoding="utf-8",
                    errors="replace",
                    start_new_session=True,
                )
            except OSError as exc:
                raise ConnectorLoadError(
                    f"{self.manifest.file}: cannot run {argv[0]!r}: {exc.strerror}"
                ) from None
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


def _kill(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
