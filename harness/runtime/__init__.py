"""How a sandbox runs. Every runtime gives the same SandboxHandle."""

from harness.runtime.embedded import EmbeddedSandbox, embedded
from harness.runtime.handle import SandboxError, SandboxHandle, TenantHandle
from harness.runtime.start import Runtime, runtime_for
from harness.runtime.url import UrlSandbox

__all__ = [
    "EmbeddedSandbox",
    "Runtime",
    "SandboxError",
    "SandboxHandle",
    "TenantHandle",
    "UrlSandbox",
    "embedded",
    "runtime_for",
]
