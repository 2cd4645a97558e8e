"""SEC-01 defect: writes its client secret into its logs (a debug line each time it asks for a
token). The sync works, but the secret now sits in every log aggregator the customer ships
logs to."""

from __future__ import annotations

from acme_sync import AcmeSync


class LogsClientSecret(AcmeSync):
    def _token_request_data(self) -> dict[str, str]:
        self.sink.log("debug", "auth", client_id=self._client_id, client_secret=self._client_secret)
        return super()._token_request_data()
