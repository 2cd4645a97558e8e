"""The url runtime: a sandbox somebody else runs (a team's shared sandbox, `harness sandbox serve`).

The admin token comes from HARNESS_ADMIN_TOKEN. Starting checks that the sandbox answers, that
the token opens its control API, and that it serves the contract this run certifies against.
"""

from __future__ import annotations

import os

from harness.contract import Contract
from harness.runtime.handle import SandboxError, SandboxHandle

TOKEN_ENV = "HARNESS_ADMIN_TOKEN"


class UrlSandbox:
    def __init__(self, url: str, contract: Contract, admin_token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.contract = contract
        self.admin_token = admin_token or os.environ.get(TOKEN_ENV)
        self.handle: SandboxHandle | None = None

    def start(self) -> SandboxHandle:
        if not self.admin_token:
            raise SandboxError(f"--sandbox=url:{self.url} needs the sandbox's admin token in {TOKEN_ENV}")
        handle = SandboxHandle(self.url, self.admin_token, "url")
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
        self.handle = handle
        return handle

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
