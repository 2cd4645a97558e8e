from __future__ import annotations

import signal
import socket
import subprocess
import sys

import httpx

from tests.conftest import ROOT


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "sandbox", "serve", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def until_ready(proc: subprocess.Popen[str]) -> tuple[list[str], str]:
    """What the server printed up to `ready`, and its URL."""
    lines: list[str] = []
    while not lines or lines[-1] != "ready":
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line, proc.stderr.read()  # type: ignore[union-attr]
        lines.append(line.strip())
    return lines, next(line.split(": ", 1)[1] for line in lines if line.startswith("url: "))


def test_serve_prints_url_token_and_ready_then_serves_until_terminated():
    proc = start("--port", "0", "--admin-token", "s3cret")
    try:
        lines, url = until_ready(proc)
        assert "admin token: s3cret" in lines
        admin = {"Authorization": "Bearer s3cret"}
        tenant = httpx.post(
            f"{url}/_sandbox/tenants", json={"seed": 1, "sizes": {"contacts": 3}}, headers=admin
        )
        assert tenant.status_code == 201
        spec = tenant.json()
        token = httpx.post(
            spec["token_url"],
            data={
                "grant_type": "client_credentials",
                "client_id": spec["client_id"],
                "client_secret": spec["client_secret"],
            },
        ).json()["access_token"]
        page = httpx.get(spec["base_url"] + "/v1/contacts", headers={"Authorization": f"Bearer {token}"})
        assert len(page.json()["data"]) == 3
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_a_taken_port_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = start("--port", str(port))
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err and "choose another port" in err


def test_a_root_tenant_serves_its_api_at_the_root_with_the_chosen_secret():
    contract = str(ROOT / "tests" / "contracts" / "stripe_like.openapi.yaml")
    proc = start(
        "--contract", contract, "--port", "0", "--root-tenant", "--root-secret", "sk_test_123", "--tidy"
    )
    try:
        lines, url = until_ready(proc)
        assert "root tenant client secret: sk_test_123" in lines
        answer = httpx.get(f"{url}/v1/customers", headers={"Authorization": "Bearer sk_test_123"})
        assert answer.status_code == 200 and answer.json()["data"]
        wrong = httpx.get(f"{url}/v1/customers", headers={"Authorization": "Bearer sk_test_124"})
        assert wrong.status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_root_tenant_options_without_a_root_tenant_are_a_usage_error():
    proc = start("--port", "0", "--lenient-ids")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "add --root-tenant" in err
    proc = start("--port", "0", "--root-tenant", "--workers", "2")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "--root-tenant needs one process" in err
