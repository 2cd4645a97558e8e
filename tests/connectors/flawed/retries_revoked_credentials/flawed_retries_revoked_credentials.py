"""AUTH-04 defect: when the token endpoint refuses its credentials it waits a moment and asks
again, forever, so revoked credentials turn into an endless stream of token requests."""

from __future__ import annotations

from acme_sync import AcmeSync, AuthenticationError


class RetriesRevokedCredentials(AcmeSync):
    def _fetch_token(self) -> tuple[str, float]:
        while True:
            try:
                return super()._fetch_token()
            except AuthenticationError:
                self._sleep(0.25)
