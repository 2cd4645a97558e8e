"""AUTH-02 defect: leaves `scope` out of the token request, so the platform grants every scope the
client may have, `contacts:write` included, although this read-only connector pushes nothing."""

from __future__ import annotations

from acme_sync import AcmeSync


class AsksForEveryScope(AcmeSync):
    def _token_request_data(self) -> dict[str, str]:
        data = super()._token_request_data()
        del data["scope"]
        return data
