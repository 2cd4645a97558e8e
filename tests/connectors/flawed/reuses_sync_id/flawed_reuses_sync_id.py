"""OBS-02 defect: logs a connection id as its `sync_id`, derived from the client id, so every
sync of one account carries the same id and an operator cannot pull out one run's lines."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from acme_sync import AcmeSync


class ReusesSyncId(AcmeSync):
    def sync(self, state: Mapping[str, Any] | None = None) -> None:
        connection = hashlib.sha256(self._client_id.encode()).hexdigest()[:32]
        self.sink.sync_id = connection
        try:
            self._sync(state)
        except Exception as exc:
            self._log_failure(exc)
            raise
