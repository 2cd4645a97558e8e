"""Drivers that run a connector the same way whatever it is written in.

Names load on first use (PEP 562), so `python -m harness.connectors.worker`, the process a
Python connector runs in, imports nothing but the standard library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.connectors.command import CommandConnector, ProtocolError
    from harness.connectors.driver import Capabilities, Diagnostics, Driver
    from harness.connectors.errors import ConnectorFailed, ConnectorLoadError, ConnectorTimeout
    from harness.connectors.manifest import Manifest, ManifestError, load_manifest, resolve_connector
    from harness.connectors.python import PythonConnector
    from harness.connectors.replica import Replica, SinkError

_WHERE = {
    "CommandConnector": "command",
    "ProtocolError": "protocol",
    "Capabilities": "driver",
    "Diagnostics": "driver",
    "Driver": "driver",
    "ConnectorFailed": "errors",
    "ConnectorLoadError": "errors",
    "ConnectorTimeout": "errors",
    "Manifest": "manifest",
    "ManifestError": "manifest",
    "load_manifest": "manifest",
    "resolve_connector": "manifest",
    "PythonConnector": "python",
    "Replica": "replica",
    "SinkError": "replica",
}

__all__ = [
    "Capabilities",
    "CommandConnector",
    "ConnectorFailed",
    "ConnectorLoadError",
    "ConnectorTimeout",
    "Diagnostics",
    "Driver",
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


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'harness.connectors' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"harness.connectors.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def driver_for(manifest: Manifest, config: dict, sink: Replica, timeout: float = 60.0) -> Driver:
    """The driver for a manifest: a Python class in a worker process, or a command."""
    if manifest.python is not None:
        from harness.connectors.python import PythonConnector

        return PythonConnector(manifest, config, sink, timeout)
    from harness.connectors.command import CommandConnector

    return CommandConnector(manifest, config, sink, timeout)
