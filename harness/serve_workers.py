"""`harness sandbox serve --workers N`: N sandbox processes on one port, sharing a Redis store.

The kernel spreads connections over the workers (SO_REUSEPORT), so one sandbox uses every core;
the supervisor starts them, restarts one that dies, and stops them all on SIGTERM. The workers
share the admin token through their environment (never the command line, which `ps` shows).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time

POLL = 0.5


def supervise(
    workers: int,
    *,
    contract: str | None,
    host: str,
    port: int,
    admin_token: str | None,
    seed: int | None,
    store: str | None,
    tenant_ttl: int | None,
    tenant_quota: int | None,
) -> int:
    if not store or store == "memory":
        print(
            f"harness: --workers {workers} needs --store redis://host:port/db: each worker is its own "
            "process, and tenants in one worker's memory would be unknown to the others",
            file=sys.stderr,
        )
        return 1
    port = port or _free_port(host)
    token = admin_token or secrets.token_urlsafe(24)
    args = [sys.executable, "-m", "harness.cli", "sandbox", "serve", "--workers", "1", "--reuse-port"]
    args += ["--host", host, "--port", str(port), "--store", store]
    for flag, value in (
        ("--contract", contract),
        ("--seed", seed),
        ("--tenant-ttl", tenant_ttl),
        ("--tenant-quota", tenant_quota),
    ):
        if value is not None:
            args += [flag, str(value)]
    env = {**os.environ, "HARNESS_ADMIN_TOKEN": token}
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    procs: list[subprocess.Popen[str]] = []
    try:
        for _ in range(workers):
            proc = _start(args, env)
            if proc is None:
                print("harness: a worker did not start (see its error above)", file=sys.stderr)
                return 1
            procs.append(proc)
        print(f"sandbox: {workers} workers on one port, store {store}")
        print(f"url: http://{host}:{port}")
        print(f"admin token: {token}")
        print(f"control API: http://{host}:{port}/_sandbox (Authorization: Bearer <admin token>)")
        print("ready", flush=True)
        while not stop.wait(POLL):
            for index, proc in enumerate(procs):
                if proc.poll() is not None and not stop.is_set():
                    print(f"worker {index} exited with {proc.returncode}; starting it again", flush=True)
                    procs[index] = _start(args, env) or proc
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str] | None:
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        if line.strip() == "ready":
            threading.Thread(target=_drain, args=(proc,), daemon=True).start()
            return proc
        if time.monotonic() > deadline:
            break
    proc.kill()
    return None


def _drain(proc: subprocess.Popen[str]) -> None:
    """Keep reading a worker's output so it never blocks on a full pipe."""
    assert proc.stdout is not None
    for _ in proc.stdout:
        pass


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
