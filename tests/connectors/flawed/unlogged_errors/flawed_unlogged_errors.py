"""OBS-04 defect: swallows a failure's cause: when the platform refuses it for good, the sync
raises without logging what was refused, so its logs end with routine request lines and an
operator cannot tell why the data stopped coming."""

from __future__ import annotations

from acme_sync import AcmeSync


class UnloggedErrors(AcmeSync):
    def _log_failure(self, exc: Exception) -> None:
        pass
