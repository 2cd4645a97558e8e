"""Pick a runtime by name: `embedded`, `container`, or `url:http://host:port`."""

from __future__ import annotations

from typing import Protocol

from harness.contract import Contract
from harness.runtime.handle import SandboxHandle


class Runtime(Protocol):
    handle: SandboxHandle | None

    def start(self) -> SandboxHandle: ...

    def stop(self) -> None: ...


def runtime_for(kind: str, contract: Contract, *, contract_given: bool = False, seed: int = 0) -> Runtime:
    if kind == "embedded":
        from harness.runtime.embedded import EmbeddedSandbox

        return EmbeddedSandbox(contract)
    if kind.startswith("url:"):
        from harness.runtime.url import UrlSandbox

        return UrlSandbox(kind[4:], contract)
    if kind == "container":
        from harness.runtime.container import ContainerSandbox

        # The image carries the reference contract; another one is mounted into the container.
        return ContainerSandbox(contract if contract_given else None, seed=seed)
    raise ValueError(f"unknown sandbox runtime {kind!r}; use embedded, container or url:http://host:port")
