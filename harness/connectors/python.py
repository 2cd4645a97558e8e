"""Drive a Python connector: `Cls(config, sink)` in this process, each call under a time limit.

A call runs in a daemon thread, so a connector that hangs cannot hang the harness: the check
fails with a timeout and the run goes on.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from harness.connectors.errors import ConnectorFailed, ConnectorLoadError, ConnectorTimeout
from harness.connectors.manifest import Manifest
from harness.connectors.replica import Replica

DEFAULT_TIMEOUT = 60.0


def load_class(manifest: Manifest) -> Callable[..., Any]:
    assert manifest.python
    for folder in (manifest.root, *(manifest.root / p for p in manifest.python_path)):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    module_name, _, attr = manifest.python.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ConnectorLoadError(
            f"{manifest.file}: cannot import {module_name!r} "
            f"({type(exc).__name__}: {exc}); it is looked up from {manifest.root}"
        ) from exc
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise ConnectorLoadError(f"{manifest.file}: module {module_name!r} has no {attr!r}")
    if not callable(target):
        raise ConnectorLoadError(f"{manifest.file}: {manifest.python} is not a class")
    return target


def call_with_timeout(call: str, func: Callable[..., Any], *args: Any, timeout: float) -> Any:
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = func(*args)
        except BaseException as exc:  # the connector's failure is evidence, not our crash
            outcome["error"] = exc
            outcome["tb"] = traceback.format_exc()

    thread = threading.Thread(target=run, name=f"connector:{call}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise ConnectorTimeout(call, timeout)
    if "error" in outcome:
        raise ConnectorFailed(call, outcome["error"], outcome["tb"])
    return outcome.get("value")


class PythonConnector:
    """One connector instance bound to one tenant's config and one replica."""

    def __init__(
        self, manifest: Manifest, config: dict[str, Any], sink: Replica, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.manifest, self.config, self.sink, self.timeout = manifest, config, sink, timeout
        cls = load_class(manifest)
        try:
            self.instance = cls(config, sink)
        except Exception as exc:
            raise ConnectorFailed(f"{manifest.python}(config, sink)", exc, traceback.format_exc()) from exc

    def check(self) -> None:
        call_with_timeout("check()", self.instance.check, timeout=self.timeout)

    def sync(self, state: Any = None) -> None:
        call_with_timeout("sync(state)", self.instance.sync, state, timeout=self.timeout)

    def push(self, stream: str, records: list[dict[str, Any]]) -> Any:
        if not callable(getattr(self.instance, "push", None)):
            raise ConnectorFailed(
                "push(stream, records)", AttributeError(f"{self.manifest.python} has no push()")
            )
        return call_with_timeout(
            "push(stream, records)", self.instance.push, stream, records, timeout=self.timeout
        )

    def handle_webhook(self, headers: dict[str, str], body: bytes) -> int:
        """Deliver one webhook; the connector's answer is the HTTP status it would send."""
        if not callable(getattr(self.instance, "handle_webhook", None)):
            raise ConnectorFailed(
                "handle_webhook(headers, body)",
                AttributeError(f"{self.manifest.python} has no handle_webhook()"),
            )
        status = call_with_timeout(
            "handle_webhook(headers, body)", self.instance.handle_webhook, headers, body, timeout=self.timeout
        )
        return int(status)

    def close(self) -> None:
        close = getattr(self.instance, "close", None)
        if callable(close):
            with contextlib.suppress(ConnectorFailed, ConnectorTimeout):
                call_with_timeout("close()", close, timeout=5)
