"""The mutualTLS inventory connector that logs the TLS identity it loaded, the client key's PEM
included, "to debug handshakes": anyone who reads the logs can then pose as the customer's
connector. Otherwise it is the reference connector."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from inventory_mtls_sync.connector import InventorySync


class LogsClientKey(InventorySync):
    def __init__(self, config: Mapping[str, Any], sink: Any) -> None:
        super().__init__(config, sink)
        self._identity = {
            "cert": Path(str(config["client_cert"])).read_text(),
            "key": Path(str(config["client_key"])).read_text(),  # the defect: the private key, logged below
        }

    def _sync_stream(self, stream: str, streams: dict[str, dict[str, Any]]) -> None:
        if stream == self._streams[0]:  # once a sync, under its sync_id
            self._log("debug", "TLS identity loaded", **self._identity)
        super()._sync_stream(stream, streams)
