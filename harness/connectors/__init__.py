"""Drivers that run a connector the same way whatever it is written in."""

from harness.connectors.command import CommandConnector, ProtocolError
from harness.connectors.errors import ConnectorFailed, ConnectorLoadError, ConnectorTimeout
from harness.connectors.manifest import Manifest, ManifestError, load_manifest, resolve_connector
from harness.connectors.python import PythonConnector
from harness.connectors.replica import Replica, SinkError

__all__ = [
    "CommandConnector",
    "ConnectorFailed",
    "ConnectorLoadError",
    "ConnectorTimeout",
    "Manifest",
    "ManifestError",
    "ProtocolError",
    "PythonConnector",
    "Replica",
    "SinkError",
    "driver_for",
    "load_manifest",
    "resolve_connector",
]


def driver_for(
    manifest: Manifest, config: dict, sink: Replica, timeout: float = 60.0
) -> PythonConnector | CommandConnector:
    """The driver for a manifest: a Python class in this process, or a command."""
    if manifest.python is not None:
        return PythonConnector(manifest, config, sink, timeout)
    return CommandConnector(manifest, config, sink, timeout)
