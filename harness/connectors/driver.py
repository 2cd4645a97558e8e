"""The one seam between checks and connectors: what a driver can do, whatever runs behind it.

Checks see only this protocol. A Python connector (a worker process) and a command connector
(one process per call, `serve` for webhooks) both implement it, so no check branches on the
connector's kind: what differs is stated as `capabilities`, and what a person needs to read
after a failure (stderr, peak memory) comes from `diagnostics()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from harness.core.memory import PeakMemory
from harness.core.waits import CpuWaits


@dataclass(frozen=True)
class Capabilities:
    push: bool  # the connector can write records back (push)
    webhooks: bool  # it takes webhook deliveries (handle_webhook / `CMD serve`)
    observes_egress: bool  # the driver sees every outbound connection it makes (`egress()`)


@dataclass(frozen=True)
class Diagnostics:
    stderr: tuple[str, ...] = ()  # the last lines its processes wrote on stderr (prints included)
    peak_kib: int = 0  # peak resident memory of its processes, when `sample_memory` was set
    memory: PeakMemory = field(default_factory=PeakMemory)  # that peak over time, same condition
    cpu_waits: CpuWaits = field(default_factory=CpuWaits)  # CPU waits, when `sample_waits` was set


@runtime_checkable
class Driver(Protocol):
    """A connector bound to one tenant's config and one sink, each call under `timeout` seconds.

    Calls raise ConnectorFailed (with the connector's traceback or stderr tail) or
    ConnectorTimeout; a failed call never takes the harness down with it.
    """

    timeout: float
    sample_memory: bool  # measure peak memory of the next calls (PERF-02); off by default
    sample_waits: bool  # record when the next calls' processes waited for a CPU (PERF-01); off by default

    @property
    def capabilities(self) -> Capabilities: ...

    def check(self) -> None: ...

    def sync(self, state: Any = None) -> None: ...

    def push(self, stream: str, records: list[dict[str, Any]]) -> Any: ...

    def handle_webhook(self, headers: dict[str, str], body: bytes) -> int:
        """Deliver one webhook; the HTTP status the connector answered."""
        ...

    def diagnostics(self) -> Diagnostics: ...

    def egress(self) -> list[dict[str, Any]] | None:
        """Connections to hosts other than the platform, refused; None when not observable."""
        ...

    def unobserved(self) -> list[str]:
        """Why `egress()` may have missed connections (empty: it saw every one it could be made
        with): a process the connector started, native code, or a runtime that sees none."""
        ...

    def close(self) -> None: ...
