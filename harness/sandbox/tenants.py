"""Tenants: isolated worlds inside one sandbox, each with its own data, clients, limits, faults
and logs. Nothing is shared between two tenants but the contract."""

from __future__ import annotations

import secrets
import threading
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from harness.contract import Contract
from harness.sandbox.audit import ACTOR, AuditLog, new_key
from harness.sandbox.credentials import Formats, Minter, contract_formats
from harness.sandbox.faults import Faults
from harness.sandbox.idempotency import IdempotencyStore
from harness.sandbox.limits import RateLimiter
from harness.sandbox.recorder import RequestLog
from harness.sandbox.webhooks import Dispatcher
from harness.synth import Change, Dataset, Overlay, RecordCache, rfc3339
from harness.synth import profile as get_profile

DEFAULT_RATE = (100.0, 200)  # requests per second per client, burst


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
    limiter: RateLimiter
    webhooks: Dispatcher
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    clients: dict[str, Client] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    requests: RequestLog = field(default_factory=RequestLog)
    audit: AuditLog = field(default_factory=AuditLog)
    idempotency: IdempotencyStore = field(default_factory=IdempotencyStore)
    faults: Faults = field(init=False)
    change_by: dict[int, str] = field(default_factory=dict)  # change seq -> harness | api
    formats: Formats = field(default_factory=Formats)  # the contract's credential formats
    minter: Minter = field(init=False)

    def __post_init__(self) -> None:
        self.faults = Faults(self.seed)
        self.minter = Minter(self.formats, self.seed, self.secret)
        self.data.listeners.append(self._changed)
        self.data.listeners.append(self.webhooks.on_change)

    def _changed(self, change: Change) -> None:
        self.change_by[change.seq] = ACTOR.get()
        self.audit.record(f"record.{change.type}", collection=change.collection, id=change.id, seq=change.seq)

    def add_client(self, scopes: frozenset[str]) -> Client:
        client = Client(*self.minter.client(), scopes)
        self.clients[client.client_id] = client
        self.audit.record("client.created", client_id=client.client_id, scopes=sorted(scopes))
        return client

    def issue_token(self, client: Client, scopes: frozenset[str]) -> Token:
        expires_at = time.time() + self.token_ttl
        token = Token(self.minter.token(client.client_id, expires_at), client.client_id, scopes, expires_at)
        self.tokens[token.value] = token
        self.audit.record(
            "token.issued", client_id=client.client_id, token_id=token.token_id, scopes=sorted(scopes)
        )
        return token

    def revoke(self, client_id: str | None = None) -> int:
        """Revoke one client (and its tokens), or every token of the tenant; returns how many tokens."""
        if client_id is not None:
            self.clients[client_id].revoked = True
        count = 0
        for token in self.tokens.values():
            if client_id in (None, token.client_id) and not token.revoked:
                token.revoked = True
                count += 1
        self.audit.record("credentials.revoked", client_id=client_id, tokens=count)
        return count

    def secrets(self) -> set[str]:
        """Every credential value of this tenant, so the recorder can mask them wherever they appear."""
        return {
            *self.tokens,
            *(c.client_secret for c in self.clients.values()),
            *(s.secret for s in self.webhooks.subscriptions),
        }

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "seed": self.seed,
            "profile": self.profile,
            "token_ttl": self.token_ttl,
            "rate_limit": {"rate": self.limiter.rate, "burst": self.limiter.burst},
            "sizes": dict(self.data.dataset.sizes),
            "clock": rfc3339(self.data.clock),
            "changes": len(self.data.changes),
        }


class Tenants:
    """The sandbox's tenants by id. Creating one builds its (virtual) dataset: cheap."""

    def __init__(self, contract: Contract, executor: Executor) -> None:
        self.contract = contract
        self.executor = executor
        self.cache = RecordCache()  # generated records, shared by every tenant, bounded
        self.audit_key = new_key()  # one per sandbox; never leaves it (see harness.sandbox.audit)
        self.formats = contract_formats(contract)  # raises ContractError for a bad credential hint
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
        rate_limit: tuple[float, int] = DEFAULT_RATE,
    ) -> tuple[Tenant, Client]:
        """A tenant with the named dataset profile; `sizes` overrides the profile's sizes."""
        from harness.sandbox.events import EventShapes

        options = get_profile(profile).dataset_options(self.contract, sizes)
        data = Overlay(Dataset(self.contract, seed=seed, cache=self.cache, **options))
        shapes = EventShapes(self.contract)
        tenant = Tenant(
            id=secrets.token_hex(6),  # no prefix: it is part of the base URL a connector sees
            seed=seed,
            profile=profile,
            data=data,
            token_ttl=token_ttl,
            limiter=RateLimiter(*rate_limit),
            webhooks=Dispatcher(self.executor, shapes.event_type, shapes.webhook_payload),
            audit=AuditLog(self.audit_key),
            formats=self.formats,
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
