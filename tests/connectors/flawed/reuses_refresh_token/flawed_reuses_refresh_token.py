"""The HubSpot-like connector that ignores refresh-token rotation: every refresh sends the
refresh_token from its config, so the second refresh presents a spent token, which the
platform refuses and which revokes the whole grant."""

from __future__ import annotations

from hubspot_sync.connector import HubSpotSync


class ReusesRefreshToken(HubSpotSync):
    def _refresh(self) -> None:
        first = self._refresh_token
        super()._refresh()
        self._refresh_token = first  # the defect: the rotated refresh_token is dropped
