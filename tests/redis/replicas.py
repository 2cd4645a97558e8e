"""Sandbox replicas for the tests: `harness sandbox serve --store redis://...` processes."""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass

import httpx

from tests.conftest import ROOT

ADMIN = "replica-admin-token"


@dataclass
class Replica:
    proc: subprocess.Popen[str]
    url: str

    @property
    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)

    def api(self, tenant_id: str) -> str:
        return f"{self.url}/t/{tenant_id}"

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=20)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=20)


def start_replica(store: str, *extra: str) -> Replica:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "sandbox",
            "serve",
            "--port",
            "0",
            "--admin-token",
            ADMIN,
            "--store",
            store,
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    while not lines or lines[-1] != "ready":
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            raise RuntimeError("the replica did not start: " + (proc.stderr.read() if proc.stderr else ""))
        lines.append(line.strip())
    url = next(line.split(": ", 1)[1] for line in lines if line.startswith("url: "))
    return Replica(proc, url)


def token(replica: Replica, tenant: dict, scope: str | None = None) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": tenant["client_id"],
        "client_secret": tenant["client_secret"],
    }
    if scope:
        form["scope"] = scope
    response = httpx.post(replica.api(tenant["id"]) + "/oauth/token", data=form, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]
