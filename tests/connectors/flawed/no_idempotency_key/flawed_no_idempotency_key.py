"""CON-03 defect: pushes records without an Idempotency-Key, so a retried create (after a timeout
or a 5xx that had in fact committed) makes a duplicate."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from acme_sync import AcmeSync


class NoIdempotencyKey(AcmeSync):
    def push(self, stream: str, records: Iterable[Mapping[str, Any]]) -> list[Any]:
        return [self._api("POST", f"/v1/{stream}", json=dict(record)) for record in records]
