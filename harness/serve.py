"""`harness sandbox serve`: run a sandbox for other processes (a team's shared sandbox, a
container, a connector written in another language)."""

from __future__ import annotations

import gc
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from harness.contract import ContractError, default_contract_path, load
from harness.runtime import EmbeddedSandbox, SandboxError
from harness.sandbox.store import StoreError, open_store


@dataclass(frozen=True)
class RootTenant:
    """`--root-tenant`: one tenant made at start whose API is also served at `/` of the port,
    for clients that can set only host and port (stripe-python's suite, written for stripe-mock)."""

    secret: str | None = None  # its client secret (the key such a suite hard-codes)
    lenient_ids: bool = False  # unknown ids of the right shape are records made for them
    tidy: bool = False  # the tidy platform: every optional field, no shaped answers


def serve_command(
    contract_file: str | None,
    host: str,
    port: int,
    admin_token: str | None,
    seed: int | None,
    *,
    store: str | None = None,
    tenant_ttl: int | None = None,
    tenant_quota: int | None = None,
    workers: int = 1,
    reuse_port: bool = False,
    tls: bool = False,
    certificate: tuple[Path, Path] | None = None,
    root: RootTenant | None = None,
) -> int:
    if workers > 1:
        from harness.serve_workers import supervise

        return supervise(
            workers,
            contract=contract_file,
            host=host,
            port=port,
            admin_token=admin_token,
            seed=seed,
            store=store,
            tenant_ttl=tenant_ttl,
            tenant_quota=tenant_quota,
        )
    try:
        contract = load(contract_file or default_contract_path())
        tenants = open_store(store)
    except (ContractError, StoreError) as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return 1
    for pem in certificate or ():
        if not pem.is_file():
            print(f"harness: --tls-cert/--tls-key: no file {pem}", file=sys.stderr)
            return 1
    runtime = EmbeddedSandbox(
        contract,
        admin_token,
        host=host,
        port=port,
        store=tenants,
        reuse_port=reuse_port,
        tls=tls,
        certificate=certificate,
    )
    if seed is not None:
        runtime.sandbox.default_seed = seed
    if tenant_ttl is not None:
        runtime.sandbox.tenants.tenant_ttl = tenant_ttl
    runtime.sandbox.tenants.quota = tenant_quota
    try:
        handle = runtime.start()
    except RuntimeError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return 1
    # A long-running server's heap only grows (request logs, cached records): freeze what exists
    # and collect the old generation rarely, or full collections pause every request (300 ms p99).
    gc.freeze()
    gc.set_threshold(50_000, 50, 1000)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"sandbox: {contract.title} ({contract.file})")
    print(f"store: {store or 'memory'}")
    print(f"url: {handle.base_url}")
    if runtime.ca is not None:
        print(f"ca: {runtime.ca.ca_file} (the CA of this run's certificate: trust it, e.g. SSL_CERT_FILE)")
    print(f"admin token: {handle.admin_token}")
    print(f"control API: {handle.base_url}/_sandbox (Authorization: Bearer <admin token>)")
    if root is not None:
        try:
            tenant = handle.new_tenant(
                seed=runtime.sandbox.default_seed,
                lenient_ids=root.lenient_ids,
                client_secret=root.secret,
                adversarial=not root.tidy,
            )
        except SandboxError as exc:
            runtime.stop()
            print(f"harness: --root-tenant: {exc}", file=sys.stderr)
            return 1
        runtime.sandbox.root_tenant = tenant.id
        at = handle.base_url + runtime.sandbox.contract.base_path
        print(f"root tenant: {tenant.id}, its API also at {at}")
        print(f"root tenant client id: {tenant.client_id}")
        print(f"root tenant client secret: {tenant.client_secret}")
    print("ready", flush=True)
    try:
        stop.wait()
    finally:
        runtime.stop()
    return 0
