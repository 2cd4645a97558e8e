"""AUTH-03 defect: on a 401 it keeps the token it has instead of fetching a new one, so when the
platform expires a token before its `expires_in` runs out, the retry is refused too and the sync
fails half-way."""

from __future__ import annotations

from acme_sync import AcmeSync


class NoTokenRefresh(AcmeSync):
    def _on_unauthorized(self) -> None:
        self.sink.log("warning", "token refused, trying again")
