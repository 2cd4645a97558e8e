"""One connector run against one tenant: what a check's sync produced, read lazily."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from harness.connectors import ConnectorFailed, ConnectorTimeout, Replica
from harness.core import RequestLog
from harness.runtime import TenantHandle

RunError = ConnectorFailed | ConnectorTimeout
T = TypeVar("T")


@dataclass
class Run:
    """What the connector stored, how it ended, and (read once, on first use) the requests the
    sandbox logged for the tenant."""

    tenant: TenantHandle
    replica: Replica
    error: RunError | None = None
    egress: list[dict[str, Any]] | None = None  # refused outbound connections; None: not observable
    _requests: RequestLog | None = field(default=None, repr=False)

    @property
    def requests(self) -> RequestLog:
        if self._requests is None:
            self._requests = self.tenant.requests()
        return self._requests


def side_by_side(*steps: Callable[[], T]) -> list[T]:
    """Run independent steps (each a sync on its own tenant) at once, results in the order given.

    A check that waits on the connector twice for unrelated reasons (RES-05's two 30 s stalls,
    each given up on only after the connector's read timeout) then waits once. What each step
    sees is unchanged: its own tenant, connector and replica, judged from the sandbox's log. A
    step that raises re-raises here, after every step has ended."""
    if len(steps) <= 1:
        return [step() for step in steps]
    with ThreadPoolExecutor(max_workers=len(steps), thread_name_prefix="harness-step") as pool:
        futures = [pool.submit(step) for step in steps]
    return [future.result() for future in futures]
