"""CON-02 defect: "normalizes" every record before storing it, turning null into "" (a company's
unknown industry or employee count, a deal's open close date), which the schema does not allow."""

from __future__ import annotations

from typing import Any

from acme_sync import AcmeSync


class BlanksNulls(AcmeSync):
    def _store(self, stream: str, record: dict[str, Any]) -> None:
        super()._store(stream, {k: "" if v is None else v for k, v in record.items()})
