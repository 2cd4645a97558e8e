"""Tenants: isolated worlds inside one sandbox, each with its own data, clients and logs."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from harness.contract import Contract
from harness.sandbox.recorder import RequestLog
from harness.synth import Dataset, Overlay, rfc3339
from harness.synth import profile as get_profile


@dataclass
class Client:
    client_id: str
    client_secret: str
    scopes: frozenset[str]
    revoked: bool = False


@dataclass
class Token:
    value: str
    client_id: str
    scopes: frozenset[str]
    expires_at: float
    revoked: bool = False

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires_at

    @property
    def token_id(self) -> str:
        """A name for the token that is safe to log."""
        return "tok_" + self.value[-6:]


@dataclass
class Tenant:
    id: str
    seed: int
    profile: str
    data: Overlay  # the tenant's dataset with its writes and change log
    token_ttl: int
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    clients: dict[str, Client] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    requests: RequestLog = field(default_factory=RequestLog)

    def add_client(self, scopes: frozenset[str]) -> Client:
        client = Client(f"cli_{secrets.token_hex(8)}", f"cs_{secrets.token_urlsafe(24)}", scopes)
        self.clients[client.client_id] = client
        return client

    def issue_token(self, client: Client, scopes: frozenset[str]) -> Token:
        token = Token(
            f"at_{secrets.token_urlsafe(32)}", client.client_id, scopes, time.time() + self.token_ttl
        )
        self.tokens[token.value] = token
        return token

    def secrets(self) -> set[str]:
        """Every credential value of this tenant, so the recorder can mask them wherever they appear."""
        return {*self.tokens, *(c.client_secret for c in self.clients.values())}

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "seed": self.seed,
            "profile": self.profile,
            "token_ttl": self.token_ttl,
            "sizes": dict(self.data.dataset.sizes),
            "clock": rfc3339(self.data.clock),
            "changes": len(self.data.changes),
        }


class Tenants:
    """The sandbox's tenants by id. Creating one builds its (virtual) dataset: cheap."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self._by_id: dict[str, Tenant] = {}
        self._lock = threading.Lock()

    def create(
        self,
        *,
        seed: int,
        profile: str = "small",
        sizes: dict[str, int] | None = None,
        token_ttl: int = 3600,
        scopes: frozenset[str] | None = None,
    ) -> tuple[Tenant, Client]:
        """A tenant with the named dataset profile; `sizes` overrides the profile's sizes."""
        options = get_profile(profile).dataset_options(self.contract, sizes)
        dataset = Dataset(self.contract, seed=seed, **options)
        tenant = Tenant(
            id=f"ten_{secrets.token_hex(6)}",
            seed=seed,
            profile=profile,
            data=Overlay(dataset),
            token_ttl=token_ttl,
        )
        client = tenant.add_client(frozenset(self.contract.scopes) if scopes is None else scopes)
        with self._lock:
            self._by_id[tenant.id] = tenant
        return tenant, client

    def get(self, tenant_id: str) -> Tenant | None:
        return self._by_id.get(tenant_id)

    def delete(self, tenant_id: str) -> bool:
        with self._lock:
            return self._by_id.pop(tenant_id, None) is not None

    def __len__(self) -> int:
        return len(self._by_id)
