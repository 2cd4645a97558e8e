"""RES-04 defect: strips every phone number before storing it, assuming `phone` is a string;
a contact whose phone is null (which the schema allows) crashes the sync with AttributeError."""

from __future__ import annotations

from typing import Any

from acme_sync import AcmeSync


class CrashesOnNullPhone(AcmeSync):
    def _store(self, stream: str, record: dict[str, Any]) -> None:
        if "phone" in record:
            record = {**record, "phone": record["phone"].strip()}
        super()._store(stream, record)
