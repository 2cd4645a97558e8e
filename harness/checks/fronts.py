"""mutualTLS: where the operations a connector uses ask for a TLS client certificate, every
connector a check builds reaches the platform through a client-certificate front.

The front (`harness.runtime.MutualTLSFront`) is a TLS listener that asks for a certificate
issued to the tenant's client and vouches for the connections that present one, so the sandbox
authenticates them. A check gets one front per tenant, started by the first connector config
built for that tenant (`CheckContext.config`) and stopped when the check ends (`close`). The
connector's config then carries the front's `base_url` (and `token_url`, where the token
endpoint is the sandbox's) with `ca_bundle`, `client_cert` and `client_key`.

The front vouches in this process, so only the embedded runtime can serve such a contract:
`unserved_reason` says why another cannot, and the session makes that one usage error.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from harness.connectors import Manifest
from harness.contract import Contract, Operation
from harness.contract.collections import find_feed
from harness.runtime import MutualTLSFront, TenantHandle, mutual_tls_front, rebase

__all__ = ["ClientCertificates", "Fronts", "client_certificates", "unserved_reason"]


@dataclass(frozen=True)
class ClientCertificates:
    """The mutualTLS schemes the connector's operations declare, and whether every way those
    operations accept authenticates with one (`required`) or it is one alternative among others."""

    schemes: tuple[str, ...]
    required: bool


def used_operations(contract: Contract, manifest: Manifest) -> list[Operation]:
    """The operations of the collections the connector syncs, pushes to or pages under, and the
    change feed: what it may call."""
    names = [*manifest.streams, *manifest.pushes, *manifest.parents.values()]
    ops: list[Operation] = []
    for name in dict.fromkeys(names):
        col = contract.collections.get(name)
        if col is None:
            continue
        ops += [op for op in (col.list_op, col.item_op, col.create_op, col.update_op, col.delete_op) if op]
    feed = find_feed(contract)
    return [*ops, *([feed] if feed is not None else [])]


def client_certificates(contract: Contract, manifest: Manifest) -> ClientCertificates | None:
    """The connector's mutualTLS schemes, or None when none of its operations declares one."""
    schemes = contract.security_schemes
    mtls = {n for n, s in schemes.items() if isinstance(s, dict) and s.get("type") == "mutualTLS"}
    if not mtls:
        return None
    ops = used_operations(contract, manifest)
    named = [n for op in ops for req in op.security for n in req if n in mtls]
    if not named:
        return None
    offering = [op for op in ops if any(set(req) & mtls for req in op.security)]
    required = any(all(set(req) & mtls for req in op.security) for op in offering)
    return ClientCertificates(tuple(dict.fromkeys(named)), required)


def unserved_reason(contract: Contract, manifest: Manifest, runtime: str) -> str | None:
    """Why `runtime` (the --sandbox value) cannot certify this connector on this contract, or None."""
    found = client_certificates(contract, manifest)
    if found is None or runtime == "embedded":
        return None
    schemes = ", ".join(f"components.securitySchemes.{n}" for n in found.schemes)
    return (
        f"{contract.file}: the operations {manifest.name} uses authenticate with a TLS client "
        f"certificate (mutualTLS: {schemes}), and only the embedded sandbox serves that: its "
        f"client-certificate front vouches for the connections it verified to a sandbox in the same "
        f"process, which a sandbox in a container or at a URL ({runtime}) is not. "
        f"Certify with --sandbox=embedded (the default)"
    )


class Fronts:
    """One client-certificate front per tenant of a check, while the check runs (thread-safe)."""

    def __init__(self) -> None:
        self._decided = False
        self._certificates: ClientCertificates | None = None
        self._fronts: dict[str, MutualTLSFront] = {}
        self._stack = contextlib.ExitStack()
        self._lock = threading.Lock()

    def needed(self, contract: Contract, manifest: Manifest) -> ClientCertificates | None:
        with self._lock:
            if not self._decided:
                self._certificates = client_certificates(contract, manifest)
                self._decided = True
            return self._certificates

    def front(self, tenant: TenantHandle) -> MutualTLSFront | None:
        """The tenant's front, if one was started."""
        with self._lock:
            return self._fronts.get(tenant.id)

    def all(self) -> Iterable[MutualTLSFront]:
        with self._lock:
            return list(self._fronts.values())

    def config(self, contract: Contract, manifest: Manifest, tenant: TenantHandle) -> dict[str, str]:
        """What a connector config for `tenant` takes from its front (started now if it is the
        first); empty when the connector needs no client certificate."""
        certificates = self.needed(contract, manifest)
        if certificates is None:
            return {}
        with self._lock:
            front = self._fronts.get(tenant.id)
            if front is None:
                front = self._stack.enter_context(
                    mutual_tls_front(tenant.base_url, tenant.client_id, required=certificates.required)
                )
                self._fronts[tenant.id] = front
        given = front.connector_config()
        if tenant.token_url and same_origin(tenant.token_url, tenant.base_url):
            given["token_url"] = rebase(tenant.token_url, front.url)
        return given

    def close(self) -> None:
        """Stop every front (the connections still open vouch for nothing afterwards)."""
        with self._lock:
            self._fronts.clear()
            stack, self._stack = self._stack, contextlib.ExitStack()
        stack.close()


def same_origin(a: str, b: str) -> bool:
    return rebase(a, b) == a
