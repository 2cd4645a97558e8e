"""The messages a connector process prints (RECORD, DELETE, STATE, LOG) and how they reach the sink.

Command connectors print them on stdout; the Python worker prints the same lines for the sink
calls its connector makes, so both kinds are applied to the harness's replica by one parser.
`Channel` reads such lines from a pipe with a deadline and caps the volume a call may produce.
"""

from __future__ import annotations

import json
import os
import select
import time
from collections.abc import Iterator
from typing import Any

from harness.connectors.replica import Replica
from harness.core.errors import HarnessError

MAX_LINE = 16 << 20  # one message; a connector that floods without newlines is cut off here
MAX_OUTPUT = 512 << 20  # bytes of messages one call may print: a flood fails the call
MAX_LOGS = 20_000  # LOG messages one driver may send: a log flood fails the call
SINK_TYPES = ("RECORD", "DELETE", "STATE", "LOG")


class ProtocolError(HarnessError, ValueError):
    """A line on stdout that is not a message of the connector protocol."""


class OutputLimit(ProtocolError):
    """The connector printed more than a call may: the harness stops reading and kills it."""


class Deadline(HarnessError):
    """No complete line arrived before the call's time limit."""


def parse(line: str, number: int) -> dict[str, Any]:
    """One line as a message (a JSON object with a `type`), or a ProtocolError naming the line."""
    try:
        message = json.loads(line)
    except json.JSONDecodeError:
        raise ProtocolError(f"stdout line {number} is not JSON: {line[:120]!r}") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError(f'stdout line {number}: a message is a JSON object with a "type"')
    return message


def apply(message: dict[str, Any], sink: Replica, number: int) -> None:
    """Apply one sink message; anything else is a ProtocolError naming the line."""
    kind = message["type"]
    if kind == "RECORD":
        sink.upsert(field(message, "stream", number), field(message, "record", number))
    elif kind == "DELETE":
        sink.delete(field(message, "stream", number), field(message, "id", number))
    elif kind == "STATE":
        sink.checkpoint(field(message, "value", number))
    elif kind == "LOG":
        if len(sink.logs) >= MAX_LOGS:
            raise OutputLimit(f"stdout line {number}: more than {MAX_LOGS} log messages; the harness stopped")
        extra = {k: v for k, v in message.items() if k not in ("type", "level", "message")}
        sink.log(str(message.get("level", "info")), str(message.get("message", "")), **extra)
    else:
        raise ProtocolError(
            f"stdout line {number}: unknown message type {kind!r}; expected RECORD, DELETE, STATE or LOG"
        )


def field(message: dict[str, Any], name: str, number: int) -> Any:
    if name not in message:
        raise ProtocolError(f"stdout line {number}: a {message['type']} message needs {name!r}")
    return message[name]


class Channel:
    """Lines from a pipe, numbered, each call's volume capped; `lines(deadline)` stops at EOF."""

    def __init__(self, fd: int) -> None:
        self.fd, self.number, self.eof = fd, 0, False
        self._pending = b""
        self.volume = 0

    def lines(self, deadline: float | None = None) -> Iterator[str]:
        """Every complete line until EOF; raises Deadline when `deadline` (monotonic) passes."""
        while True:
            if b"\n" in self._pending:
                raw, self._pending = self._pending.split(b"\n", 1)
                self.number += 1
                yield raw.decode("utf-8", "replace")
                continue
            if self.eof:
                if self._pending:
                    raw, self._pending = self._pending, b""
                    self.number += 1
                    yield raw.decode("utf-8", "replace")
                return
            if len(self._pending) > MAX_LINE:
                raise ProtocolError(f"stdout line {self.number + 1} is longer than {MAX_LINE} bytes")
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self.fd], [], [], wait)
            if not ready:
                raise Deadline()
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                self.eof = True
                continue
            self.volume += len(chunk)
            if self.volume > MAX_OUTPUT:
                raise OutputLimit(
                    f"printed more than {MAX_OUTPUT >> 20} MiB on stdout in one call; the harness stopped it"
                )
            self._pending += chunk
