"""How a sandbox runs. Every runtime gives the same SandboxHandle.

`embedded` runs the sandbox in this process; `container` runs the project's image with
testcontainers (imported only when a container starts); `url` uses one already running.
"""

from harness.runtime.container import ContainerError, ContainerSandbox, container
from harness.runtime.embedded import EmbeddedSandbox, embedded
from harness.runtime.handle import SandboxError, SandboxHandle, TenantHandle
from harness.runtime.start import Runtime, runtime_for
from harness.runtime.tls import MutualTLSFront, UntrustedFront, mutual_tls_front, rebase, untrusted_front
from harness.runtime.url import UrlSandbox

__all__ = [
    "ContainerError",
    "ContainerSandbox",
    "EmbeddedSandbox",
    "MutualTLSFront",
    "Runtime",
    "SandboxError",
    "SandboxHandle",
    "TenantHandle",
    "UntrustedFront",
    "UrlSandbox",
    "container",
    "embedded",
    "mutual_tls_front",
    "rebase",
    "runtime_for",
    "untrusted_front",
]
