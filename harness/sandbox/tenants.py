"""Tenants: isolated worlds inside one sandbox, each with its own data, clients, limits, faults
and logs. Nothing is shared between two tenants but the contract.

What a tenant *is* lives in a store (`harness.sandbox.store`): in this process's memory by
default, or in Redis so that many sandbox processes serve the same tenants. A `Tenant` is the
same object either way; only its parts (overlay, clients, tokens, ...) are backed differently.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Container, MutableMapping
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from harness.contract import Contract
from harness.contract.evolve import Evolution
from harness.core.errors import HarnessError
from harness.sandbox.audit import ACTOR, AuditLog, acting
from harness.sandbox.credentials import Formats, Minter, contract_formats
from harness.sandbox.faults import Faults
from harness.sandbox.idempotency import IdempotencyStore
from harness.sandbox.limits import RateLimiter
from harness.sandbox.recorder import RequestLog
from harness.sandbox.store.scoped import ScopedOverlay
from harness.sandbox.webhooks import Dispatcher
from harness.synth import Change, Dataset, RecordCache, rfc3339
from harness.synth import profile as get_profile

DEFAULT_RATE = (100.0, 200)  # requests per second per client, burst
DEFAULT_TENANT_TTL = 7 * 86400  # a tenant nobody deletes is gone after a week
REFRESH_TOKEN_TTL = 30 * 86400  # a refresh token outlives any run; rotation ends it first


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
    kind: str = "access"  # access | refresh | rotated (a refresh token already exchanged once)

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires_at

    @property
    def token_id(self) -> str:
        """A name for the token that is safe to log."""
        return ("tok_" if self.kind == "access" else "rt_") + self.value[-6:]


@dataclass(frozen=True)
class TenantSpec:
    """What a tenant is made from: everything else about it is derived or is its state."""

    id: str
    seed: int
    profile: str
    sizes: dict[str, int] | None
    token_ttl: int
    rate: float
    burst: int
    secret: str  # hex; keys the tenant's cursors
    expires_at: float
    owner: str = ""  # which API key created it (for quotas)
    adversarial: bool = True  # data and answers every way the contract allows; False: tidy
    lenient_ids: bool = False  # an unknown id of the right shape is a record made for it (stripe-mock's way)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Parts:
    """A tenant's state, as one store backs it."""

    data: ScopedOverlay
    limiter: RateLimiter
    webhooks: Dispatcher
    clients: MutableMapping[str, Client]
    tokens: MutableMapping[str, Token]
    requests: RequestLog
    audit: AuditLog
    idempotency: IdempotencyStore
    faults: Faults
    change_by: MutableMapping[int, str]  # change seq -> harness | api
    secrets: Callable[[], Container[str]] | None = None  # a store's faster answer to Tenant.secrets


@dataclass
class Tenant:
    id: str
    seed: int
    profile: str
    data: ScopedOverlay  # the dataset with its writes, change log and records' parents
    token_ttl: int
    limiter: RateLimiter
    webhooks: Dispatcher
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    clients: MutableMapping[str, Client] = field(default_factory=dict)
    tokens: MutableMapping[str, Token] = field(default_factory=dict)
    requests: RequestLog = field(default_factory=RequestLog)
    audit: AuditLog = field(default_factory=AuditLog)
    idempotency: IdempotencyStore = field(default_factory=IdempotencyStore)
    faults: Faults = None  # type: ignore[assignment]  # made in __post_init__ unless a store gives one
    change_by: MutableMapping[int, str] = field(default_factory=dict)
    expires_at: float = float("inf")  # when its TTL ends (time.time())
    spec: TenantSpec | None = None
    _secrets: Callable[[], Container[str]] | None = None
    formats: Formats = field(default_factory=Formats)  # the contract's credential formats
    minter: Minter = field(init=False)

    def __post_init__(self) -> None:
        if self.faults is None:
            self.faults = Faults(self.seed)
        self.minter = Minter(self.formats, self.seed, self.secret)
        self.data.listeners.append(self._changed)
        self.data.listeners.append(self.webhooks.on_change)

    @property
    def adversarial(self) -> bool:
        """Are its data and answers shaped every way the contract allows (synth.untidy, shaping)?"""
        return self.spec is None or self.spec.adversarial

    @property
    def lenient_ids(self) -> bool:
        """Does an unknown id of the right shape name a record made for it, as on stripe-mock,
        so suites written against a stateless mock run? There every id exists: one deleted is made anew."""
        return self.spec is not None and self.spec.lenient_ids

    def _changed(self, change: Change) -> None:
        self.change_by[change.seq] = ACTOR.get()
        self.audit.record(f"record.{change.type}", collection=change.collection, id=change.id, seq=change.seq)

    def complete_audit(self) -> None:
        """Give every change in the log its audit entry before the chain is read. The change log
        is written first and is the record; a replica killed between a change and its entry left
        the entry out, so the next reader appends it (`recovered`), attributed as the change was,
        under the tenant's write lock so no live writer's entry is doubled."""
        with self.data.writing():
            recorded = {
                (e.get("details") or {}).get("seq")
                for e in self.audit.entries()
                if str(e.get("action", "")).startswith("record.")
            }
            for change in self.data.changes_since(0):
                if change.seq in recorded:
                    continue
                with acting(self.change_by.get(change.seq) or ACTOR.get()):
                    self.audit.record(
                        f"record.{change.type}",
                        collection=change.collection,
                        id=change.id,
                        seq=change.seq,
                        recovered=True,
                    )

    def add_client(self, scopes: frozenset[str], secret: str | None = None) -> Client:
        """A client; `secret` chooses its secret (a suite's hard-coded key), else minted."""
        client_id, minted = self.minter.client()
        client = Client(client_id, secret or minted, scopes)
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

    def issue_refresh_token(self, client: Client, scopes: frozenset[str] | None = None) -> Token:
        """A refresh token for the client, as if a user had just authorized it (the authorization
        code step is out of the harness's scope): the harness hands it to the connector."""
        expires_at = time.time() + REFRESH_TOKEN_TTL
        value = self.minter.refresh_token(client.client_id)
        grant = client.scopes if scopes is None else scopes
        token = Token(value, client.client_id, grant, expires_at, kind="refresh")
        self.tokens[value] = token
        self.audit.record("refresh_token.issued", client_id=client.client_id, token_id=token.token_id)
        return token

    def rotate(self, token: Token) -> Token:
        """Exchange a refresh token once: it is spent (`rotated`) and a new one replaces it."""
        self.tokens[token.value] = replace(token, kind="rotated")
        client = self.clients[token.client_id]
        fresh = self.issue_refresh_token(client, token.scopes)
        self.audit.record("refresh_token.rotated", token_id=token.token_id, new_token_id=fresh.token_id)
        return fresh

    def revoke_grant(self, client_id: str, reason: str) -> int:
        """Revoke every token of a client but not the client (a rotated refresh token was replayed:
        RFC 6749 section 10.4, OAuth 2.1 section 4.3.1); returns how many tokens."""
        count = 0
        for value, token in list(self.tokens.items()):
            if token.client_id == client_id and not token.revoked:
                self.tokens[value] = replace(token, revoked=True)
                count += 1
        self.audit.record("grant.revoked", client_id=client_id, tokens=count, reason=reason)
        return count

    def expire_token(self, value: str) -> None:
        """Make a token expired now (the `expire_token` fault); written back so every replica sees it."""
        token = self.tokens.get(value)
        if token is not None:
            self.tokens[value] = replace(token, expires_at=time.time() - 1)

    def revoke(self, client_id: str | None = None) -> int:
        """Revoke one client (and its tokens), or every token of the tenant; returns how many tokens."""
        if client_id is not None:
            self.clients[client_id] = replace(self.clients[client_id], revoked=True)
        count = 0
        for value, token in list(self.tokens.items()):
            if client_id in (None, token.client_id) and not token.revoked:
                self.tokens[value] = replace(token, revoked=True)
                count += 1
        self.audit.record("credentials.revoked", client_id=client_id, tokens=count)
        return count

    def secrets(self) -> Container[str]:
        """Every credential value of this tenant, so the recorder can mask them wherever they appear."""
        if self._secrets is not None:
            return self._secrets()
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
            "adversarial": self.adversarial,
            "lenient_ids": self.lenient_ids,
            "token_ttl": self.token_ttl,
            "rate_limit": {"rate": self.limiter.rate, "burst": self.limiter.burst},
            "sizes": dict(self.data.dataset.sizes),
            "clock": rfc3339(self.data.clock),
            "changes": len(self.data.changes),
            "expires_at": rfc3339_seconds(self.expires_at) if self.expires_at < float("inf") else None,
        }


def rfc3339_seconds(moment: float) -> str:
    from datetime import UTC, datetime

    return rfc3339(datetime.fromtimestamp(int(moment), tz=UTC))


class QuotaExceeded(HarnessError):
    """An API key already holds as many tenants as it may."""


class Tenants:
    """The sandbox's tenants by id, kept in a store. Creating one builds its (virtual) dataset: cheap."""

    def __init__(
        self,
        contract: Contract,
        executor: Executor,
        store: Any = None,
        *,
        tenant_ttl: float = DEFAULT_TENANT_TTL,
        quota: int | None = None,
    ) -> None:
        from harness.sandbox.events import EventShapes
        from harness.sandbox.store import MemoryStore

        self.contract = contract
        self.executor = executor
        self.cache = RecordCache()  # generated records, shared by every tenant, bounded
        self.shapes = EventShapes(contract)
        self.store = store if store is not None else MemoryStore()
        self.audit_key = self.store.audit_key  # one per sandbox service (see harness.sandbox.audit)
        self.tenant_ttl = tenant_ttl
        self.quota = quota  # tenants one API key may hold at once; None: no limit
        self._swept = 0.0
        self.formats = contract_formats(contract)  # raises ContractError for a bad credential hint

    def create(
        self,
        *,
        seed: int,
        profile: str = "small",
        sizes: dict[str, int] | None = None,
        token_ttl: int = 3600,
        scopes: frozenset[str] | None = None,
        rate_limit: tuple[float, int] = DEFAULT_RATE,
        ttl: float | None = None,
        owner: str = "",
        adversarial: bool = True,
        lenient_ids: bool = False,
        client_secret: str | None = None,
    ) -> tuple[Tenant, Client]:
        """A tenant with the named dataset profile; `sizes` overrides the profile's sizes;
        `client_secret` is its first client's secret (default: minted in the contract's format).
        Raises QuotaExceeded when `owner` already holds its quota of tenants."""
        get_profile(profile).dataset_options(self.contract, sizes)  # bad sizes fail before anything is stored
        RateLimiter(*rate_limit)  # so does a bad rate
        self.sweep()
        spec = TenantSpec(
            id=secrets.token_hex(6),  # no prefix: it is part of the base URL a connector sees
            seed=seed,
            profile=profile,
            sizes=dict(sizes) if sizes else None,
            token_ttl=token_ttl,
            rate=float(rate_limit[0]),
            burst=int(rate_limit[1]),
            secret=secrets.token_hex(32),
            expires_at=time.time() + (self.tenant_ttl if ttl is None else ttl),
            owner=owner,
            adversarial=adversarial,
            lenient_ids=lenient_ids,
        )
        if not self.store.reserve(spec, self.quota):
            raise QuotaExceeded(f"this API key already holds its quota of {self.quota} tenants")
        tenant = self.store.create(spec, self.build)
        client = tenant.add_client(
            frozenset(self.contract.scopes) if scopes is None else scopes, client_secret
        )
        return tenant, client

    def build(self, spec: TenantSpec, parts: Callable[[TenantSpec, Dataset, Tenants], Parts]) -> Tenant:
        """The tenant object for a spec, its state backed by the parts a store gives."""
        options = get_profile(spec.profile).dataset_options(self.contract, spec.sizes)
        dataset = Dataset(
            self.contract, seed=spec.seed, cache=self.cache, adversarial=spec.adversarial, **options
        )
        made = parts(spec, dataset, self)
        tenant = Tenant(
            id=spec.id,
            seed=spec.seed,
            profile=spec.profile,
            data=made.data,
            token_ttl=spec.token_ttl,
            limiter=made.limiter,
            webhooks=made.webhooks,
            secret=bytes.fromhex(spec.secret),
            clients=made.clients,
            tokens=made.tokens,
            requests=made.requests,
            audit=made.audit,
            idempotency=made.idempotency,
            faults=made.faults,
            change_by=made.change_by,
            expires_at=spec.expires_at,
            spec=spec,
            _secrets=made.secrets,
            formats=self.formats,
        )
        evolution = Evolution.of(self.contract)
        if evolution is not None and evolution.events:  # after the audit's and webhooks' listeners
            tenant.data.listeners.append(_Announcer(tenant.data, evolution.events))
        return tenant

    def get(self, tenant_id: str) -> Tenant | None:
        return self.store.get(tenant_id, self.build)

    def delete(self, tenant_id: str) -> bool:
        """Forget the tenant and free everything it held."""
        return self.store.delete(tenant_id)

    def sweep(self, *, every: float = 1.0) -> int:
        """Delete the tenants whose TTL has passed (at most once per `every` seconds); returns how many."""
        now = time.time()
        if now - self._swept < every:
            return 0
        self._swept = now
        return sum(self.store.delete(tenant_id) for tenant_id in self.store.expired(now))

    def owned(self, owner: str) -> int:
        return self.store.owned(owner)

    def __len__(self) -> int:
        return self.store.count()


class _Announcer:
    """An evolved tenant's new kind of change (harness.contract.evolve): announced on the
    change feed right after each update of a record of its collection."""

    def __init__(self, data: Any, events: dict[str, str]) -> None:
        self.data = data
        self.kinds = {stream: kind.rpartition(".")[2] for stream, kind in events.items()}

    def __call__(self, change: Change) -> None:
        kind = self.kinds.get(change.collection)
        if kind and change.type == "updated":
            self.data.announce(change.collection, change.id, kind)
