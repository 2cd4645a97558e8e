"""RES-03 defect: treats every error status as transient, so a 403 (or 400, 404) that no retry
can fix is retried with backoff until its attempts run out (401 still refreshes the token)."""

from __future__ import annotations

from acme_sync import AcmeSync


class RetriesClientErrors(AcmeSync):
    def _is_retryable_status(self, status: int) -> bool:
        return status >= 400 and status != 401
