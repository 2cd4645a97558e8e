"""CHG-01 defect: maps a contact's lifecycle_stage through a closed Enum of the values the contract
lists today: the platform's next version adds a stage, and the sync fails with ValueError."""

from __future__ import annotations

from enum import Enum
from typing import Any

from acme_sync import AcmeSync


class LifecycleStage(Enum):
    SUBSCRIBER = "subscriber"
    LEAD = "lead"
    OPPORTUNITY = "opportunity"
    CUSTOMER = "customer"
    EVANGELIST = "evangelist"
    OTHER = "other"


class ClosedEnum(AcmeSync):
    def _store(self, stream: str, record: dict[str, Any]) -> None:
        if stream == "contacts":
            record = {**record, "lifecycle_stage": LifecycleStage(record["lifecycle_stage"]).value}
        super()._store(stream, record)
