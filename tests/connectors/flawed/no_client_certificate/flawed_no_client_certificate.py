"""The mutualTLS inventory connector that trusts the platform's CA (`ca_bundle`) but never
presents the client certificate it was given (`client_cert`, `client_key`): the platform refuses
the handshake, so nothing it asks for arrives. Otherwise it is the reference connector."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

from inventory_mtls_sync.connector import InventorySync


class NoClientCertificate(InventorySync):
    @staticmethod
    def _tls(config: Mapping[str, Any]) -> ssl.SSLContext:
        bundle = config.get("ca_bundle")
        return ssl.create_default_context(cafile=str(bundle) if bundle else None)  # the defect: no cert chain
