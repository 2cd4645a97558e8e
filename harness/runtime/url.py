"""The url runtime: a sandbox somebody else runs (a team's shared sandbox, `harness sandbox serve`).

The admin token comes from HARNESS_ADMIN_TOKEN. Starting checks that the sandbox answers, that
the token opens its control API, and that it serves the contract this run certifies against.

An `https://` sandbox is verified against the public CAs, or against the CA file in
HARNESS_SANDBOX_CA (what `harness sandbox serve --tls` prints as `ca:`); that CA is then the one
the connector is told to trust, as on the embedded runtime.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.contract import Contract
from harness.runtime import tls
from harness.runtime.handle import SandboxError, SandboxHandle

TOKEN_ENV = "HARNESS_ADMIN_TOKEN"
CA_ENV = "HARNESS_SANDBOX_CA"


class UrlSandbox:
    def __init__(
        self, url: str, contract: Contract, admin_token: str | None = None, ca_file: Path | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.contract = contract
        self.admin_token = admin_token or os.environ.get(TOKEN_ENV)
        if ca_file is None and os.environ.get(CA_ENV):
            ca_file = Path(os.environ[CA_ENV])
        self.ca_file = ca_file
        self.handle: SandboxHandle | None = None

    def start(self) -> SandboxHandle:
        if not self.admin_token:
            raise SandboxError(f"--sandbox=url:{self.url} needs the sandbox's admin token in {TOKEN_ENV}")
        if self.ca_file is not None and not self.url.startswith("https://"):
            raise SandboxError(f"{CA_ENV} is set, but url:{self.url} is not an https:// address")
        if self.ca_file is not None and not self.ca_file.is_file():
            raise SandboxError(f"{CA_ENV}: no file {self.ca_file}; give the `ca:` file the sandbox printed")
        handle = SandboxHandle(self.url, self.admin_token, "url")
        if self.ca_file is not None:
            tls.trust_control(handle, self.ca_file)
        try:
            health = handle.health()
        except SandboxError as exc:
            handle.close()
            raise SandboxError(f"no sandbox answers at {self.url}: {exc}") from None
        if health.get("contract") != self.contract.title:
            handle.close()
            raise SandboxError(
                f"the sandbox at {self.url} serves {health.get('contract')!r}, not "
                f"{self.contract.title!r} ({self.contract.file}); start it with that contract"
            )
        response = handle.admin.get("/tenants/ten_check_admin_token")
        if response.status_code == 401:
            handle.close()
            raise SandboxError(f"{TOKEN_ENV} does not open the control API of {self.url}")
        if self.ca_file is not None:
            tls.register(self.url, self.ca_file)
        self.handle = handle
        return handle

    def stop(self) -> None:
        if self.handle is not None:
            tls.unregister(self.url)
            self.handle.close()
            self.handle = None
