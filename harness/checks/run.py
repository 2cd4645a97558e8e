"""One connector run against one tenant: what a check's sync produced, read lazily."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.connectors import ConnectorFailed, ConnectorTimeout, Replica
from harness.core import RequestLog
from harness.runtime import TenantHandle

RunError = ConnectorFailed | ConnectorTimeout


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
