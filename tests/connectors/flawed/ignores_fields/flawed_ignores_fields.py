"""DATA-01 defect: ignores the `fields` it is configured with and stores whole records, so every
field the manifest says it does not use (phone, tags, custom fields, ...) reaches the customer's
system anyway."""

from __future__ import annotations

from typing import Any

from acme_sync import AcmeSync


class IgnoresFields(AcmeSync):
    def _minimize(self, stream: str, record: dict[str, Any]) -> dict[str, Any]:
        return record
