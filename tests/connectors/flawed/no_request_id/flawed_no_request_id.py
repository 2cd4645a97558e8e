"""OBS-03 defect: makes up a request id for its own log lines but never sends it, so nobody can
find its requests in the platform's logs by that id."""

from __future__ import annotations

from acme_sync import AcmeSync


class NoRequestId(AcmeSync):
    def _request_id_header(self, request_id: str) -> dict[str, str]:
        return {}
