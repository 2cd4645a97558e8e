"""A connector's log lines as the OBS checks read them: LOG messages (structured by construction)
and stderr lines, structured when each is a JSON object with a level and a message, in the field
names JSON logging libraries use (structlog, python-json-logger, pino, slog, tracing)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

LEVEL_KEYS = ("level", "levelname", "severity", "log.level")
MESSAGE_KEYS = ("message", "msg", "event")
ERROR_LEVELS = {"error", "err", "critical", "crit", "fatal", "alert", "emerg", "emergency", "panic"}
PINO_ERROR = 50  # pino's numeric levels: 50 error, 60 fatal


@dataclass(frozen=True)
class LogLine:
    """One line the connector logged: `where` names it in a message; `fields` is None when it
    is not structured (not a JSON object with a level and a message)."""

    where: str
    text: str
    fields: Mapping[str, Any] | None

    @property
    def level(self) -> str | None:
        return level_of(self.fields) if self.fields is not None else None

    def quoted(self) -> str:
        return f"{self.where}: {self.text[:160]!r}"


def level_of(fields: Mapping[str, Any]) -> str | None:
    """The line's level, lower case (`info`, `error`); pino's numbers as they are (`30`)."""
    for key in LEVEL_KEYS:
        value = fields.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip().lower()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def message_of(fields: Mapping[str, Any]) -> str | None:
    nested = fields.get("fields")  # Rust's tracing: {"level": ..., "fields": {"message": ...}}
    for where in (fields, nested if isinstance(nested, Mapping) else {}):
        for key in MESSAGE_KEYS:
            if isinstance(where.get(key), str):
                return str(where[key])
    return None


def is_error(level: str | None) -> bool:
    return level is not None and (level in ERROR_LEVELS or (level.isdigit() and int(level) >= PINO_ERROR))


def structured(text: str) -> Mapping[str, Any] | None:
    """A stderr line as a log record: a JSON object with a level and a message, else None."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict) or level_of(value) is None or message_of(value) is None:
        return None
    return value


def log_lines(logs: Iterable[Mapping[str, Any]], stderr: Iterable[str]) -> tuple[LogLine, ...]:
    """LOG messages (structured by construction: level, message, fields) and stderr lines."""
    out = [
        LogLine(f"log #{i}", json.dumps(entry, default=str, ensure_ascii=False), entry)
        for i, entry in enumerate(logs, 1)
    ]
    for i, line in enumerate(stderr, 1):
        if line.strip():
            out.append(LogLine(f"stderr line {i}", line.strip(), structured(line.strip())))
    return tuple(out)
