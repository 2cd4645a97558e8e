"""RES-02 defect: retries 5xx, dropped connections and cut-off bodies at once, with no backoff."""

from __future__ import annotations

from acme_sync import AcmeSync


class RetriesWithoutBackoff(AcmeSync):
    def _backoff_delay(self, attempt: int) -> float:
        return 0.0
