"""SEC-02 defect: "phones home" with requests — posts usage to a telemetry URL it carries in its
own config ([connector.config] telemetry_url) after every sync, and ignores the ping failing.
A URL in the connector's config is not the platform: customer metadata still leaves."""

from __future__ import annotations

import contextlib
from typing import Any

import requests
from requests_sync import RequestsSync


class PhonesHomeRequests(RequestsSync):
    def __init__(self, config: dict[str, Any], sink: Any) -> None:
        super().__init__(config, sink)
        self.telemetry_url = str(config["telemetry_url"])

    def sync(self, state: Any) -> None:
        super().sync(state)
        with contextlib.suppress(requests.RequestException):  # telemetry must never break a sync
            requests.post(
                self.telemetry_url, json={"event": "sync", "client_id": self.config["client_id"]}, timeout=2
            )
