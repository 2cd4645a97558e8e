"""Certify several connectors against one shared sandbox: the sandbox is served once (tenants in
Redis, so it can be any number of replicas), and each connector is a `pytest --connector=...
--sandbox=url:...` run of its own, with tenants of its own on that one service.

    python examples/ci/matrix.py --store redis://127.0.0.1:6379/0 connectors/a connectors/b
    python examples/ci/matrix.py --sandbox-url https://sandbox.example.com connectors/a   # already served

With --sandbox-url (or $HARNESS_SANDBOX_URL) nothing is started: the admin token comes from
$HARNESS_ADMIN_TOKEN. Otherwise `harness sandbox serve --store ...` is started here and stopped
at the end. Each connector's report goes to <out>/<name>/; the exit status is 0 only if every
connector passed. github-actions-matrix.yml runs the same thing as a matrix of jobs.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

READY_SECONDS = 60


@contextmanager
def served(store: str, workers: int = 1) -> Iterator[tuple[str, str]]:
    """`harness sandbox serve` on a free port: (its URL, its admin token) until the block ends."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = secrets.token_urlsafe(24)
    argv = [sys.executable, "-m", "harness.cli", "sandbox", "serve", "--port", str(port)]
    argv += ["--store", store, "--workers", str(workers), "--admin-token", token]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == "ready":
                break
        else:
            raise SystemExit(f"matrix: the sandbox did not start (exit {proc.wait()})")
        yield f"http://127.0.0.1:{port}", token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def certify(connector: Path, url: str, token: str, out: Path, extra: list[str]) -> int:
    """One connector's run against the shared sandbox; its exit status."""
    report = out / connector.name
    report.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--connector={connector}"]
    argv += [f"--sandbox=url:{url}", f"--cert-report={report / 'cert.json'}", *extra]
    env = {**os.environ, "HARNESS_ADMIN_TOKEN": token}
    with open(report / "pytest.log", "w") as log:
        return subprocess.run(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=report).returncode


def run(connectors: list[Path], url: str, token: str, out: Path, extra: list[str]) -> dict[str, int]:
    results = {}
    for connector in connectors:
        results[connector.name] = certify(connector.resolve(), url, token, out, extra)
        print(
            f"matrix: {connector.name}: {'passed' if results[connector.name] == 0 else 'FAILED'}", flush=True
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("connectors", nargs="+", type=Path, metavar="CONNECTOR")
    parser.add_argument(
        "--store", default=os.environ.get("HARNESS_STORE", "memory"), help="for the sandbox started here"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="sandbox processes (more than 1 needs --store redis://)"
    )
    parser.add_argument(
        "--sandbox-url", default=os.environ.get("HARNESS_SANDBOX_URL"), help="a sandbox already served"
    )
    parser.add_argument("--out", type=Path, default=Path("out"), help="reports, one folder per connector")
    parser.add_argument("--level", default="standard", help="--cert-level for every connector")
    parser.add_argument("--checks", help="run only these check ids (the verdicts are then incomplete)")
    args = parser.parse_args(argv)
    extra = [f"--cert-level={args.level}"] + ([f"--checks={args.checks}"] if args.checks else [])
    out = args.out.resolve()
    if args.sandbox_url:
        token = os.environ.get("HARNESS_ADMIN_TOKEN", "")
        results = run(args.connectors, args.sandbox_url, token, out, extra)
    else:
        with served(args.store, args.workers) as (url, token):
            results = run(args.connectors, url, token, out, extra)
    failed = sorted(name for name, code in results.items() if code)
    print(
        f"matrix: {len(results) - len(failed)} of {len(results)} passed"
        + (f"; failed: {failed}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
