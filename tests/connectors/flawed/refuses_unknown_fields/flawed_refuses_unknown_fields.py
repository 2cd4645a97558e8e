"""CHG-01 defect: reads each contact into a dataclass with `Contact(**record)`, the fields of the
contract as published: the platform's next version adds an optional field, and every sync fails
with TypeError (unexpected keyword argument)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from acme_sync import AcmeSync


@dataclass
class Contact:
    id: str
    email: str
    first_name: str
    last_name: str
    phone: str | None
    company_id: str | None
    lifecycle_stage: str
    tags: list[str]
    custom_fields: dict[str, Any]
    created_at: str
    updated_at: str


class RefusesUnknownFields(AcmeSync):
    def _store(self, stream: str, record: dict[str, Any]) -> None:
        if stream == "contacts":
            record = asdict(Contact(**record))
        super()._store(stream, record)
