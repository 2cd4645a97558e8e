"""The replica: the sink a connector writes into under certification.

It keeps the current rows per stream and every operation in order, so checks can tell a record
that was lost from one that was written twice. Integrators can use it in their own tests.
"""

from __future__ import annotations

import copy
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from harness.core.errors import HarnessError


class SinkError(HarnessError, TypeError):
    """The connector called the sink wrongly (a record that is not an object, no id, ...)."""


@dataclass(frozen=True)
class Operation:
    kind: str  # upsert | delete
    stream: str
    id: Any
    record: dict[str, Any] | None = None


@dataclass
class Replica:
    id_fields: dict[str, str] = field(default_factory=dict)
    rows: dict[str, dict[Any, dict[str, Any]]] = field(default_factory=dict)
    operations: list[Operation] = field(default_factory=list)
    checkpoints: list[Any] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    # -- the sink interface -------------------------------------------------------------------

    def upsert(self, stream: str, record: dict[str, Any]) -> None:
        if not isinstance(record, dict):
            raise SinkError(f"sink.upsert({stream!r}, ...) takes a dict record, got {type(record).__name__}")
        key = self.id_fields.get(stream, "id")
        if key not in record:
            raise SinkError(f"sink.upsert({stream!r}, ...) got a record without its id field {key!r}")
        record = copy.deepcopy(record)
        with self._lock:
            self.rows.setdefault(stream, {})[record[key]] = record
            self.operations.append(Operation("upsert", stream, record[key], record))

    def delete(self, stream: str, record_id: Any) -> None:
        with self._lock:
            self.rows.setdefault(stream, {}).pop(record_id, None)
            self.operations.append(Operation("delete", stream, record_id))

    def checkpoint(self, state: Any) -> None:
        with self._lock:
            self.checkpoints.append(copy.deepcopy(state))

    def log(self, level: str, message: str, **fields: Any) -> None:
        with self._lock:
            self.logs.append({"level": level, "message": message, **fields})

    # -- what checks ask ----------------------------------------------------------------------

    @property
    def state(self) -> Any:
        """The last checkpoint: where the next sync resumes."""
        return self.checkpoints[-1] if self.checkpoints else None

    def upserts(self, stream: str) -> Counter[Any]:
        """How many times each id was written to a stream."""
        return Counter(op.id for op in self.operations if op.kind == "upsert" and op.stream == stream)

    def streams(self) -> list[str]:
        return sorted(self.rows)
