"""Pick a runtime by name: `embedded`, `container`, or `url:http://host:port`."""

from __future__ import annotations

from typing import Protocol

from harness.contract import Contract
from harness.runtime.handle import SandboxHandle


class Runtime(Protocol):
    handle: SandboxHandle | None

    def start(self) -> SandboxHandle: ...

    def stop(self) -> None: ...


# Whether a certification serves the platform over TLS with a per-run CA (runtime/tls.py). Off
# until SEC-03 presents `tls.untrusted_front` and SEC-01's own token request verifies against
# `tls.ca_for(url)`: with it on, a harness-side client that trusts only the public CAs (SEC-01's
# `_token_shape`) is refused by the sandbox and would stop seeing token-shaped leaks.
CERTIFY_OVER_TLS = False


def runtime_for(
    kind: str, contract: Contract, *, contract_given: bool = False, seed: int = 0, tls: bool | None = None
) -> Runtime:
    tls = CERTIFY_OVER_TLS if tls is None else tls
    if kind == "embedded":
        from harness.runtime.embedded import EmbeddedSandbox

        return EmbeddedSandbox(contract, tls=tls)
    if kind.startswith("url:"):
        from harness.runtime.url import UrlSandbox

        return UrlSandbox(kind[4:], contract)
    if kind == "container":
        from harness.runtime.container import ContainerSandbox

        # The image carries the reference contract; another one is mounted into the container.
        return ContainerSandbox(contract if contract_given else None, seed=seed, tls=tls)
    raise ValueError(f"unknown sandbox runtime {kind!r}; use embedded, container or url:http://host:port")
