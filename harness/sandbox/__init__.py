"""The sandbox: a stateful, contract-true mock of the platform, as an ASGI app."""

from harness.sandbox.app import Sandbox, create_app

__all__ = ["Sandbox", "create_app"]
