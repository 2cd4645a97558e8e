"""How a sandbox runs. Every runtime gives the same SandboxHandle."""

from harness.runtime.embedded import EmbeddedSandbox, embedded
from harness.runtime.handle import SandboxError, SandboxHandle, TenantHandle

__all__ = ["EmbeddedSandbox", "SandboxError", "SandboxHandle", "TenantHandle", "embedded"]
