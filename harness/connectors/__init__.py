"""Drivers that run a connector the same way whatever it is written in."""

from harness.connectors.errors import ConnectorFailed, ConnectorLoadError, ConnectorTimeout
from harness.connectors.manifest import Manifest, ManifestError, load_manifest, resolve_connector
from harness.connectors.python import PythonConnector
from harness.connectors.replica import Replica, SinkError

__all__ = [
    "ConnectorFailed",
    "ConnectorLoadError",
    "ConnectorTimeout",
    "Manifest",
    "ManifestError",
    "PythonConnector",
    "Replica",
    "SinkError",
    "load_manifest",
    "resolve_connector",
]
