"""The Redis store: a tenant's state in Redis, so any number of sandbox processes share it.

Every key of a tenant carries its id as a hash tag (`hs:{ten_x}:...`), so one tenant lives on one
node of a Redis Cluster. What each part keeps:

    meta       string  the TenantSpec as JSON (seed, profile, sizes, TTLs, cursor secret, owner);
                       the registry `hs:tenants` (by expiry) says whether the tenant is alive
    log        list    the change log, one JSON change per entry (seq = index + 1); with `clock`
                       it *is* the overlay: each process replays it over the virtual base data
                       (a create under a nested path carries its parent's path values, `p`)
    clients    hash    client id -> client (secret, scopes, revoked)
    tok:<v>    string  one access token, expiring with Redis's TTL; `toks` lists them
    rl:<key>   hash    a token bucket, spent by a Lua script: one atomic budget for all replicas
    faults     string  the fault rules with their counters and the seeded generator's state
    req        list    the request log; `reqseq` numbers requests on arrival
    audit      list    the audit chain (appended under WATCH, so two replicas never fork it)
    idem       hash    Idempotency-Key -> the first response
    subs       list    webhook subscriptions; `deliv` the delivery log (deliveries: store.queue)

Writes to the overlay take a short per-tenant lock, replay what other processes wrote, then
append; a process killed mid-write leaves the log as it was before or after the change.
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Container, Iterator, MutableMapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import redis

from harness.sandbox.audit import ACTOR, GENESIS, AuditLog, entry_hash, new_key
from harness.sandbox.faults import FaultRule, Faults
from harness.sandbox.idempotency import IdempotencyStore, Stored
from harness.sandbox.limits import Decision, RateLimiter
from harness.sandbox.recorder import RequestLog, RequestRecord
from harness.sandbox.store.admission import Admission, admit, current
from harness.sandbox.store.queue import DeliveryQueue
from harness.sandbox.store.scoped import Scope, ScopedOverlay
from harness.sandbox.webhooks import Dispatcher, Subscription
from harness.synth import Change, Dataset

if TYPE_CHECKING:
    from harness.sandbox.tenants import Client, Parts, Tenant, Tenants, TenantSpec, Token

ROOT = "hs:"
TENANTS = ROOT + "tenants"  # sorted set: tenant id by expiry time
AUDIT_KEY = ROOT + "audit_key"
FIXED = (
    "meta",
    "log",
    "clock",
    "lock",
    "clients",
    "toks",
    "rlkeys",
    "faults",
    "faults:lock",
    "req",
    "reqseq",
    "audit",
    "idem",
    "subs",
    "deliv",
)
SHORTEST_SECRET = 8  # whsec_ and two characters; generated tokens and client secrets are far longer
TOKEN_GRACE = 86400  # an expired token is still known (answered "expired", not "unknown") for a day
LOCK_TIMEOUT = 10.0
CACHE_SIZE = 50_000  # tenant objects kept per process; an evicted one is rebuilt from Redis


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def prefix(tenant_id: str) -> str:
    return f"{ROOT}{{{tenant_id}}}:"


def owner_key(owner: str) -> str:
    return f"{ROOT}owner:{owner}"


class RedisStore:
    def __init__(self, client: redis.Redis, *, delivery_workers: int = 2) -> None:
        self.r = client
        self.r.set(AUDIT_KEY, new_key(), nx=True)  # one chain key for every replica of the service
        self.audit_key: bytes = self.r.get(AUDIT_KEY)  # type: ignore[assignment]
        self._cache: OrderedDict[str, Tenant] = OrderedDict()
        self._lock = threading.Lock()
        self._reserve = self.r.register_script(RESERVE)
        self._bucket = self.r.register_script(BUCKET)
        self._admit = self.r.register_script(ADMIT)
        self._refund = self.r.register_script(REFUND)
        self._guarded = self.r.register_script(GUARDED)
        self.queue = DeliveryQueue(self.r, self._guarded, delivery_workers)
        self.queue.start()

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        from harness.sandbox.store import StoreError

        client = redis.Redis.from_url(url, socket_timeout=10, health_check_interval=30)
        try:
            client.ping()
        except redis.RedisError as exc:
            raise StoreError(f"--store {url}: cannot reach Redis ({exc}); start it or fix the URL") from None
        return cls(client)

    # -- the registry -----------------------------------------------------------------------------

    def reserve(self, spec: TenantSpec, quota: int | None) -> bool:
        meta = prefix(spec.id) + "meta"
        done = self._reserve(
            keys=[owner_key(spec.owner), TENANTS, meta],
            args=[spec.id, spec.expires_at, -1 if quota is None else quota, _compact(spec.to_dict())],
        )
        return bool(done)

    def create(self, spec: TenantSpec, build: Any) -> Tenant:
        tenant = build(spec, self.parts)
        self._remember(tenant)
        return tenant

    def get(self, tenant_id: str, build: Any) -> Tenant | None:
        if not isinstance(tenant_id, str) or "}" in tenant_id or "{" in tenant_id:
            return None
        expires = self.r.zscore(TENANTS, tenant_id)
        if expires is None:
            with self._lock:
                self._cache.pop(tenant_id, None)
            return None
        if float(expires) <= time.time():
            self.delete(tenant_id)
            return None
        with self._lock:
            tenant = self._cache.get(tenant_id)
            if tenant is not None:
                self._cache.move_to_end(tenant_id)
                return tenant
        raw = self.r.get(prefix(tenant_id) + "meta")
        if raw is None:
            return None
        from harness.sandbox.tenants import TenantSpec

        tenant = build(TenantSpec(**json.loads(raw)), self.parts)
        self._remember(tenant)
        return tenant

    def admit(self, tenant_id: str, build: Any, token: str | None) -> Tenant | None:
        """`get`, and everything else an API request would ask Redis before its handler runs,
        in one script (ADMIT): the request's number, whether there are faults, the presented
        token and its client, the rate-limit decision for that client (spent now; refunded with
        the request log's append if the request never reaches the rate limit), and the change
        log's tail. The request's parts read these answers (see store.admission)."""
        if not isinstance(tenant_id, str) or "}" in tenant_id or "{" in tenant_id:
            return None
        p = prefix(tenant_id)
        with self._lock:
            tenant = self._cache.get(tenant_id)
        known = len(tenant.data.changes) if tenant is not None else -1
        found = self._admit(
            keys=[TENANTS, p + "meta", p + "reqseq", p + "faults", p + "log", p + "clock", p + "rlkeys"],
            args=[tenant_id, 1 if tenant is None else 0, known, token or "", p],
        )
        if not found:
            with self._lock:
                self._cache.pop(tenant_id, None)
            return None
        if len(found) == 1:  # past its TTL
            self.delete(tenant_id)
            return None
        _, seq, faults, log, clock, token_raw, client_raw, allowed, left, meta = found
        admission = Admission(p, seq=int(seq), faults=bool(faults), log_from=known, log=log, clock=clock)
        if token is not None:
            admission.token, admission.token_raw = token, token_raw
            if token_raw is not None:
                admission.client_id, admission.client_raw = json.loads(token_raw)["c"], client_raw
            if int(allowed) >= 0:
                admission.bucket, admission.decision = admission.client_id, (bool(allowed), float(left))
        if tenant is None:
            from harness.sandbox.tenants import TenantSpec

            admission.log_from, admission.log = -1, None  # the new overlay replays the whole log itself
            tenant = build(TenantSpec(**json.loads(meta)), self.parts)
            self._remember(tenant)
        else:
            with self._lock:
                self._cache.move_to_end(tenant_id)
        admit(admission)
        return tenant

    def delete(self, tenant_id: str) -> bool:
        """Every key of the tenant, and its places in the registry."""
        with self._lock:
            self._cache.pop(tenant_id, None)
        p = prefix(tenant_id)
        pipe = self.r.pipeline(transaction=False)
        pipe.smembers(p + "toks")
        pipe.smembers(p + "rlkeys")
        pipe.get(p + "meta")
        tokens, buckets, raw = pipe.execute()
        owner = json.loads(raw).get("owner", "") if raw else ""
        keys = [p + name for name in FIXED]
        keys += [p + "tok:" + t.decode() for t in tokens] + [b.decode() for b in buckets]
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(*keys)
        pipe.zrem(TENANTS, tenant_id)
        pipe.srem(owner_key(owner), tenant_id)
        deleted, *_ = pipe.execute()
        return bool(deleted) or raw is not None

    def expired(self, now: float) -> list[str]:
        found: list[bytes] = self.r.zrangebyscore(TENANTS, "-inf", now, start=0, num=200)  # type: ignore[assignment]
        return [t.decode() for t in found]

    def owned(self, owner: str) -> int:
        return int(self.r.scard(owner_key(owner)))

    def count(self) -> int:
        return int(self.r.zcard(TENANTS))

    def close(self) -> None:
        self.queue.stop()
        self.r.close()

    def _remember(self, tenant: Tenant) -> None:
        with self._lock:
            self._cache[tenant.id] = tenant
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)

    # -- a tenant's parts -------------------------------------------------------------------------

    def parts(self, spec: TenantSpec, dataset: Dataset, tenants: Tenants) -> Parts:
        from harness.sandbox.tenants import Parts

        p = prefix(spec.id)
        change_by: dict[int, str] = {}
        clients = RedisClients(self.r, p)
        tokens = RedisTokens(self.r, p, spec.token_ttl)
        webhooks = RedisDispatcher(
            self.r,
            p,
            self._guarded,
            self.queue,
            tenants.executor,
            tenants.shapes.event_type,
            tenants.shapes.webhook_payload,
            signing=tenants.shapes.signing,
        )

        def secrets() -> Container[str]:
            return LazySecrets(self.r, p)

        return Parts(
            data=RedisOverlay(dataset, self.r, p, change_by, self._guarded),
            limiter=RedisRateLimiter(spec.rate, spec.burst, self.r, p, self._bucket),
            webhooks=webhooks,
            clients=clients,
            tokens=tokens,
            requests=RedisRequestLog(self.r, p, self._guarded, self._refund, spec.burst),
            audit=RedisAuditLog(self.audit_key, self.r, p),
            idempotency=RedisIdempotency(self.r, p),
            faults=RedisFaults(spec.seed, self.r, p),  # type: ignore[arg-type]
            change_by=change_by,
            secrets=secrets,
        )


# Register a tenant for its owner, atomically: the quota holds across replicas.
RESERVE = """
local quota = tonumber(ARGV[3])
if quota >= 0 and redis.call('SCARD', KEYS[1]) >= quota then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('SET', KEYS[3], ARGV[4])
return 1
"""

# Append or count only while the tenant exists: a request still in flight when its tenant is
# deleted must not bring any of its keys back.
GUARDED = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if ARGV[1] == 'incr' then return redis.call('INCR', KEYS[2]) end
local n = redis.call('RPUSH', KEYS[2], ARGV[2])
if ARGV[3] then redis.call('SET', KEYS[3], ARGV[3]) end
return n
"""

# A token bucket, refilled continuously, by Redis's clock: one budget however many replicas spend it.
SPEND = """
local function spend(key, index, rate, burst, now)
  local b = redis.call('HMGET', key, 'tokens', 'last')
  local tokens = tonumber(b[1]) or burst
  local last = tonumber(b[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - last) * rate)
  local allowed = 0
  if tokens >= 1 then
    tokens = tokens - 1
    allowed = 1
  end
  redis.call('HSET', key, 'tokens', tostring(tokens), 'last', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(burst / rate * 1000) + 1000)
  redis.call('SADD', index, key)
  return allowed, tostring(tokens)
end
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""

BUCKET = (
    SPEND
    + """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[3]) == 0 then return {1, tostring(burst)} end  -- a deleted tenant
local now = tonumber(ARGV[3])
if now < 0 then now = clock() end
local allowed, left = spend(KEYS[1], KEYS[2], rate, burst, now)
return {allowed, left}
"""
)

# Give back a token spent at admission by a request that never reached the rate limit.
REFUND = """
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens'))
if tokens then redis.call('HSET', KEYS[1], 'tokens', tostring(math.min(tonumber(ARGV[1]), tokens + 1))) end
return 1
"""

# One API request's questions in one round trip (RedisStore.admit). KEYS: the registry, meta,
# reqseq, faults, log, clock, rlkeys; ARGV: tenant id, whether meta is wanted, the change-log
# index this process has replayed to (-1: none), the bearer token ('' none), the key prefix.
# The token and bucket keys are built from the prefix: they carry the tenant's hash tag, so they
# live on the same Cluster slot as the declared keys.
ADMIT = (
    SPEND
    + """
local expires = redis.call('ZSCORE', KEYS[1], ARGV[1])
local meta = redis.call('GET', KEYS[2])
if not expires or not meta then return false end
local now = clock()
if tonumber(expires) <= now then return {expires} end
local seq = redis.call('INCR', KEYS[3])
local faults = redis.call('EXISTS', KEYS[4])
local log, tenant_clock = {}, false
local from = tonumber(ARGV[3])
if from >= 0 then
  log = redis.call('LRANGE', KEYS[5], from, -1)
  tenant_clock = redis.call('GET', KEYS[6])
end
local token, client, allowed, left = false, false, -1, '0'
if ARGV[4] ~= '' then
  token = redis.call('GET', ARGV[5] .. 'tok:' .. ARGV[4])
  if token then
    local t = cjson.decode(token)
    client = redis.call('HGET', ARGV[5] .. 'clients', t.c)
    local revoked = t.r or (client and cjson.decode(client).revoked)
    if faults == 0 and not revoked and t.e > now then  -- the rate limit is the next step: take it now
      local spec = cjson.decode(meta)
      allowed, left = spend(ARGV[5] .. 'rl:' .. t.c, KEYS[7], tonumber(spec.rate), tonumber(spec.burst), now)
    end
  end
end
if ARGV[2] ~= '1' then meta = false end
return {expires, seq, faults, log, tenant_clock, token, client, allowed, left, meta}
"""
)


class RedisRateLimiter(RateLimiter):
    def __init__(self, rate: float, burst: int, r: redis.Redis, p: str, script: Any) -> None:
        super().__init__(rate, burst)
        self._p, self._script = p, script

    def take(self, key: str, now: float | None = None) -> Decision:
        admission = current(self._p)
        if (
            now is None
            and admission is not None
            and admission.decision is not None
            and admission.bucket == key
            and admission.take("decision")
        ):
            return self.decide(*admission.decision)
        allowed, left = self._script(
            keys=[self._p + "rl:" + key, self._p + "rlkeys", self._p + "meta"],
            args=[self.rate, self.burst, -1 if now is None else now],
        )
        return self.decide(bool(allowed), float(left))


class RedisOverlay(ScopedOverlay):
    """The overlay, with its change log in Redis: reads first replay what other processes
    appended; writes hold the tenant's lock while they replay, change and append. A record's
    parent (harness.sandbox.store.scoped) is in the log entry that created it."""

    def __init__(
        self, dataset: Dataset, r: redis.Redis, p: str, change_by: dict[int, str], guarded: Any
    ) -> None:
        super().__init__(dataset)
        self._p, self._guarded, self._meta = p, guarded, p + "meta"
        self._r, self._log_key, self._clock_key, self._lock_key = r, p + "log", p + "clock", p + "lock"
        self._base_clock = dataset.clock
        self._writer = threading.local()
        self._adopting = False
        self.change_by = change_by
        self._replay()

    def version(self) -> None:
        """None: another replica may have written since, so nothing read here may be kept."""
        return None

    # reads: up to date with every replica first
    def get(self, collection: str, record_id: Any) -> dict[str, Any] | None:
        self._replay()
        return super().get(collection, record_id)

    def count(self, collection: str, since: datetime | None = None) -> int:
        self._replay()
        return super().count(collection, since)

    def scoped_count(self, collection: str, scope: Scope, since: datetime | None = None) -> int:
        self._replay()
        return super().scoped_count(collection, scope, since)

    def scoped_page(
        self,
        collection: str,
        scope: Scope,
        after: Any = (0, -1),
        limit: int = 50,
        since: datetime | None = None,
    ) -> Any:
        self._replay()
        return super().scoped_page(collection, scope, after, limit, since)

    def scoped_key_at(self, collection: str, scope: Scope, offset: int, since: datetime | None = None) -> Any:
        self._replay()
        return super().scoped_key_at(collection, scope, offset, since)

    def key_before(
        self, collection: str, scope: Scope, key: Any, count: int, since: datetime | None = None
    ) -> Any:
        self._replay()
        return super().key_before(collection, scope, key, count, since)

    def parent_of(self, collection: str, record_id: Any) -> Scope | None:
        self._replay()
        return super().parent_of(collection, record_id)

    def page(
        self, collection: str, after: Any = (0, -1), limit: int = 50, since: datetime | None = None
    ) -> Any:
        self._replay()
        return super().page(collection, after, limit, since)

    def key_at(self, collection: str, offset: int, since: datetime | None = None) -> Any:
        self._replay()
        return super().key_at(collection, offset, since)

    def key_of(self, collection: str, record_id: Any) -> Any:
        self._replay()
        return super().key_of(collection, record_id)

    def changes_since(self, seq: int = 0, limit: int | None = None) -> list[Change]:
        self._replay()
        return super().changes_since(seq, limit)

    # writes: one writer per tenant at a time, across replicas
    def create(self, collection: str, fields: Any = None, parent: Scope | None = None) -> dict[str, Any]:
        with self._writing():
            return super().create(collection, fields, parent)

    def adopt(self, collection: str, record: Any, parent: Scope | None = None) -> dict[str, Any]:
        with self._writing():
            self._adopting = True  # its log entry says so: replaying it takes no index from creates
            try:
                return super().adopt(collection, record, parent)
            finally:
                self._adopting = False

    def update(self, collection: str, record_id: Any, fields: Any) -> dict[str, Any] | None:
        with self._writing():
            return super().update(collection, record_id, fields)

    def delete(self, collection: str, record_id: Any) -> bool:
        with self._writing():
            return super().delete(collection, record_id)

    def advance(self, seconds: float) -> datetime:
        with self._writing():
            moment = super().advance(seconds)
            self._r.set(self._clock_key, self._offset())
            return moment

    def churn(self, n: int, *, seed: int, collections: list[str] | None = None) -> list[Change]:
        with self._writing():
            return super().churn(n, seed=seed, collections=collections)

    def _log(
        self, collection: str, kind: str, record_id: Any, record: dict[str, Any] | None, now: datetime
    ) -> Change:
        change = Change(len(self.changes) + 1, now, kind, collection, record_id, record)
        by = ACTOR.get()
        entry = {
            "s": change.seq,
            "t": now.isoformat(),
            "k": kind,
            "c": collection,
            "i": record_id,
            "r": record,
        }
        if kind == "created" and self._placing is not None:
            entry["p"] = list(self._placing)
        if kind == "created" and self._adopting:
            entry["a"] = 1
        self._place(collection, kind, record_id, self._placing)
        self._guarded(  # durable before anyone is told: audit and webhooks follow the log
            keys=[self._meta, self._log_key, self._clock_key],
            args=["rpush", _compact({**entry, "by": by}), self._offset()],
        )
        self.changes.append(change)
        self.change_by[change.seq] = by
        for listener in self.listeners:
            listener(change)
        return change

    def _offset(self) -> int:
        return int((self.clock - self._base_clock).total_seconds())

    def writing(self) -> contextlib.AbstractContextManager[Any]:
        return self._writing()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        if getattr(self._writer, "depth", 0):
            self._writer.depth += 1
            try:
                yield
            finally:
                self._writer.depth -= 1
            return
        lock = self._r.lock(self._lock_key, timeout=LOCK_TIMEOUT, blocking_timeout=LOCK_TIMEOUT)
        if not lock.acquire():
            raise TimeoutError(f"could not lock {self._lock_key} within {LOCK_TIMEOUT} s")
        try:
            with self._lock:
                self._pull()
                self._writer.depth = 1
                try:
                    yield
                finally:
                    self._writer.depth = 0
        finally:
            with contextlib.suppress(redis.exceptions.LockError):
                lock.release()

    def _replay(self) -> None:
        """Before a read: apply the changes other processes appended since this one last looked.
        An API request reads as of its admission, which already fetched the log's tail: its
        reads cost no round trip (and see one moment of the tenant, not several)."""
        if getattr(self._writer, "depth", 0):
            return  # inside a write, which replayed when it took the lock
        admission = current(self._p)
        if admission is not None and admission.fresh:
            return
        with self._lock:
            if (
                admission is not None
                and admission.log is not None
                and admission.take("log")
                and admission.log_from == len(self.changes)
            ):
                self._catch_up(admission.log, admission.clock)
                admission.fresh = True
                return
            self._pull()
        if admission is not None:
            admission.fresh = True

    def _pull(self) -> None:
        """Read the log's tail and the clock from Redis and apply them."""
        with self._lock:
            pipe = self._r.pipeline(transaction=False)
            pipe.lrange(self._log_key, len(self.changes), -1)
            pipe.get(self._clock_key)
            entries, clock = pipe.execute()
            self._catch_up(entries, clock)

    def _catch_up(self, entries: list[bytes], clock: bytes | None) -> None:
        for raw in entries:
            self._apply(json.loads(raw))
        if clock is not None:
            self.clock = self._base_clock + timedelta(seconds=int(clock))

    def _apply(self, entry: dict[str, Any]) -> None:
        seq, collection, record_id, record = entry["s"], entry["c"], entry["i"], entry["r"]
        state = self._state[collection]
        if entry["k"] == "created":
            if not entry.get("a"):  # an adopted record takes no index; a create steps as it did
                self.next_index(collection)
                state.created += 1
            if entry.get("p") is not None:
                self._place(collection, "created", record_id, tuple(entry["p"]))
        state.order.pop(record_id, None)
        if record is None:
            state.live.pop(record_id, None)
        else:
            state.live[record_id] = record
        self._touch(collection, record_id)
        if record is not None:
            state.order[record_id] = seq
        self.changes.append(
            Change(seq, datetime.fromisoformat(entry["t"]), entry["k"], collection, record_id, record)
        )
        self.change_by[seq] = entry.get("by", "harness")


class RedisClients(MutableMapping[str, "Client"]):
    def __init__(self, r: redis.Redis, p: str) -> None:
        self._r, self._p, self._key = r, p, p + "clients"

    def __getitem__(self, client_id: str) -> Client:
        admission = current(self._p)
        if admission is not None and admission.client_id == client_id and admission.take("client"):
            raw = admission.client_raw
        else:
            raw = self._r.hget(self._key, client_id)  # type: ignore[assignment]
        if raw is None:
            raise KeyError(client_id)
        return _client(json.loads(raw))

    def get(self, client_id: str, default: Any = None) -> Any:
        try:
            return self[client_id]
        except KeyError:
            return default

    def __contains__(self, client_id: object) -> bool:
        return isinstance(client_id, str) and bool(self._r.hexists(self._key, client_id))

    def __setitem__(self, client_id: str, client: Client) -> None:
        _forget(self._p, "client")
        value = {"id": client.client_id, "secret": client.client_secret, "scopes": sorted(client.scopes)}
        self._r.hset(self._key, client_id, json.dumps({**value, "revoked": client.revoked}))

    def __delitem__(self, client_id: str) -> None:
        _forget(self._p, "client")
        self._r.hdel(self._key, client_id)

    def __iter__(self) -> Iterator[str]:
        return iter(k.decode() for k in self._r.hkeys(self._key))  # type: ignore[union-attr]

    def __len__(self) -> int:
        return int(self._r.hlen(self._key))

    def values(self) -> list[Client]:  # type: ignore[override]
        return [_client(json.loads(v)) for v in self._r.hvals(self._key)]


def _forget(p: str, what: str) -> None:
    """A write: what admission read of it is out of date."""
    admission = current(p)
    if admission is not None:
        admission.used.add(what)


def _client(value: dict[str, Any]) -> Client:
    from harness.sandbox.tenants import Client

    return Client(value["id"], value["secret"], frozenset(value["scopes"]), value["revoked"])


class RedisTokens(MutableMapping[str, "Token"]):
    """Access tokens, each its own key expiring a grace period after the token does."""

    def __init__(self, r: redis.Redis, p: str, token_ttl: int) -> None:
        self._r, self._tenant, self._p, self._index = r, p, p + "tok:", p + "toks"

    def __getitem__(self, value: str) -> Any:
        admission = current(self._tenant)
        if admission is not None and admission.token == value and admission.take("token"):
            raw = admission.token_raw
        else:
            raw = self._r.get(self._p + value)  # type: ignore[assignment]
        if raw is None:
            raise KeyError(value)
        return _token(value, json.loads(raw))

    def get(self, value: str, default: Any = None) -> Any:
        try:
            return self[value]
        except KeyError:
            return default

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and bool(self._r.exists(self._p + value))

    def __setitem__(self, value: str, token: Any) -> None:
        data = {"c": token.client_id, "s": sorted(token.scopes), "e": token.expires_at, "r": token.revoked}
        if token.kind != "access":
            data["k"] = token.kind
        _forget(self._tenant, "token")
        ttl = max(1, int(token.expires_at - time.time()) + TOKEN_GRACE)
        pipe = self._r.pipeline(transaction=True)
        pipe.set(self._p + value, json.dumps(data), ex=ttl)
        pipe.sadd(self._index, value)
        pipe.execute()

    def __delitem__(self, value: str) -> None:
        _forget(self._tenant, "token")
        self._r.delete(self._p + value)
        self._r.srem(self._index, value)

    def __iter__(self) -> Iterator[str]:
        return iter(v.decode() for v in self._r.smembers(self._index))  # type: ignore[union-attr]

    def __len__(self) -> int:
        return int(self._r.scard(self._index))

    def items(self) -> list[tuple[str, Any]]:  # type: ignore[override]
        values = list(self)
        raws = self._r.mget([self._p + v for v in values]) if values else []
        return [
            (v, _token(v, json.loads(raw))) for v, raw in zip(values, raws, strict=True) if raw is not None
        ]


def _token(value: str, data: dict[str, Any]) -> Any:
    from harness.sandbox.tenants import Token

    return Token(value, data["c"], frozenset(data["s"]), data["e"], data["r"], data.get("k", "access"))


class LazySecrets:
    """A tenant's credential values, read from Redis only if a query value needs checking."""

    def __init__(self, r: redis.Redis, p: str) -> None:
        self._r, self._p = r, p
        self._values: set[str] | None = None

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, str) or len(value) < SHORTEST_SECRET:
            return False  # `limit=50` needs no round trip: no credential is that short
        if self._values is None:
            pipe = self._r.pipeline(transaction=False)
            pipe.smembers(self._p + "toks")
            pipe.hvals(self._p + "clients")
            pipe.lrange(self._p + "subs", 0, -1)
            tokens, clients, subs = pipe.execute()
            self._values = {t.decode() for t in tokens}
            self._values |= {json.loads(c)["secret"] for c in clients} | {
                json.loads(s)["secret"] for s in subs
            }
        return value in self._values


class RedisRequestLog(RequestLog):
    def __init__(self, r: redis.Redis, p: str, guarded: Any, refund: Any, burst: int) -> None:
        super().__init__()
        self._r, self._p, self._key, self._seq_key, self._meta = r, p, p + "req", p + "reqseq", p + "meta"
        self._guarded, self._refund, self._burst = guarded, refund, burst

    def append(self, entry: RequestRecord) -> None:
        """The request's last round trip: its log entry, and the refund of a rate-limit token its
        admission spent that it never used."""
        admission = current(self._p)
        if admission is None or not admission.refund:
            self._guarded(keys=[self._meta, self._key], args=["rpush", _compact(entry.to_dict())])
            return
        admission.used.add("decision")
        pipe = self._r.pipeline(transaction=False)
        self._guarded(keys=[self._meta, self._key], args=["rpush", _compact(entry.to_dict())], client=pipe)
        self._refund(keys=[self._p + "rl:" + str(admission.bucket)], args=[self._burst], client=pipe)
        pipe.execute()

    def next_seq(self) -> int:
        admission = current(self._p)
        if admission is not None and admission.seq is not None and admission.take("seq"):
            return admission.seq
        return int(self._guarded(keys=[self._meta, self._seq_key], args=["incr"]) or 0)

    def since(self, seq: int = 0) -> list[RequestRecord]:
        entries = (RequestRecord(**json.loads(raw)) for raw in self._r.lrange(self._key, 0, -1))
        return sorted((e for e in entries if e.seq > seq), key=lambda e: e.seq)

    def __len__(self) -> int:
        return int(self._r.llen(self._key))


class RedisAuditLog(AuditLog):
    """The chain in a Redis list; an entry is appended only if no replica appended meanwhile."""

    def __init__(self, key: bytes, r: redis.Redis, p: str) -> None:
        super().__init__(key)
        self._r, self._list, self._meta = r, p + "audit", p + "meta"

    def record(self, action: str, **details: Any) -> dict[str, Any]:
        by = ACTOR.get()
        with self._r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(self._list, self._meta)
                    if not pipe.exists(self._meta):  # the tenant was deleted meanwhile
                        pipe.reset()
                        return {}
                    length = pipe.llen(self._list)
                    last = pipe.lindex(self._list, -1)
                    entry = {
                        "seq": int(length) + 1,
                        "time": round(time.time(), 6),
                        "action": action,
                        "by": by,
                        "details": details,
                        "prev": json.loads(last)["hash"] if last else GENESIS,
                    }
                    entry["hash"] = entry_hash(entry, self.key)
                    pipe.multi()
                    pipe.rpush(self._list, json.dumps(entry, separators=(",", ":")))
                    pipe.execute()
                    return entry
                except redis.WatchError:
                    continue

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self._r.lrange(self._list, 0, -1)]

    def head(self) -> dict[str, Any]:
        last = self._r.lindex(self._list, -1)
        entry = json.loads(last) if last else None
        return {"seq": entry["seq"] if entry else 0, "hash": entry["hash"] if entry else GENESIS}


class RedisIdempotency(IdempotencyStore):
    def __init__(self, r: redis.Redis, p: str) -> None:
        super().__init__()
        self._r, self._key = r, p + "idem"

    def lookup(self, client: str, operation: str, key: str) -> Stored | None:
        raw = self._r.hget(self._key, f"{client}\0{operation}\0{key}")
        if raw is None:
            return None
        value = json.loads(raw)
        return Stored(value["f"], value["s"], base64.b64decode(value["b"]), value["m"])

    def remember(self, client: str, operation: str, key: str, stored: Stored) -> None:
        body = base64.b64encode(stored.body).decode()
        value = {"f": stored.fingerprint, "s": stored.status, "b": body, "m": stored.media_type}
        self._r.hsetnx(self._key, f"{client}\0{operation}\0{key}", json.dumps(value))


class RedisFaults:
    """Fault rules, their counters and the seeded generator, in one value changed under a lock:
    the same seed and the same requests fire the same faults, whichever replica serves them."""

    def __init__(self, seed: int, r: redis.Redis, p: str) -> None:
        self._seed, self._r, self._p = seed, r, p
        self._key, self._lock_key = p + "faults", p + "faults:lock"

    @property
    def rules(self) -> list[FaultRule]:
        return self._load(self._r.get(self._key)).rules  # type: ignore[arg-type]

    def set(self, specs: list[Any], operations: Any = None) -> list[FaultRule]:
        faults = Faults(self._seed)
        rules = faults.set(specs, operations)
        with self._locked():
            self._save(faults)
        return rules

    def clear(self) -> None:
        self._r.delete(self._key)

    def fire(self, operation: str) -> list[FaultRule]:
        admission = current(self._p)
        if admission is not None and not admission.faults and admission.take("faults"):
            return []  # admission saw no rules
        if not self._r.exists(self._key):  # no rules: the common case costs one round trip
            return []
        with self._locked():
            faults = self._load(self._r.get(self._key))  # type: ignore[arg-type]
            fired = faults.fire(operation)
            self._save(faults)
        return fired

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        lock = self._r.lock(self._lock_key, timeout=LOCK_TIMEOUT, blocking_timeout=LOCK_TIMEOUT)
        if not lock.acquire():
            raise TimeoutError(f"could not lock {self._lock_key}")
        try:
            yield
        finally:
            with contextlib.suppress(redis.exceptions.LockError):
                lock.release()

    def _load(self, raw: bytes | None) -> Faults:
        faults = Faults(self._seed)
        if raw is None:
            return faults
        value = json.loads(raw)
        for spec in value["rules"]:
            seen, fired = spec.pop("seen"), spec.pop("fired")
            rule = FaultRule(**spec)
            rule.seen, rule.fired = seen, fired
            faults.rules.append(rule)
        version, internal, gauss = value["rng"]
        faults._rng = random.Random()
        faults._rng.setstate((version, tuple(internal), gauss))
        return faults

    def _save(self, faults: Faults) -> None:
        if not faults.rules:
            self._r.delete(self._key)
            return
        value = {"rules": [rule.to_dict() for rule in faults.rules], "rng": list(faults._rng.getstate())}  # type: ignore[union-attr]
        self._r.set(self._key, json.dumps(value, separators=(",", ":")))


class RedisDispatcher(Dispatcher):
    """Subscriptions and the delivery log in Redis; deliveries go through the shared queue."""

    def __init__(
        self, r: redis.Redis, p: str, guarded: Any, queue: DeliveryQueue, *args: Any, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._queue = queue
        self._p = p
        self._r, self._subs, self._log, self._meta, self._guarded = (
            r,
            p + "subs",
            p + "deliv",
            p + "meta",
            guarded,
        )

    @property
    def subscriptions(self) -> list[Subscription]:
        subs = []
        for raw in self._r.lrange(self._subs, 0, -1):
            value = json.loads(raw)
            subs.append(Subscription(value["id"], frozenset(value["types"]), value["secret"], value["url"]))
        return subs

    def _add(self, sub: Subscription) -> None:
        if sub.target is not None:
            raise ValueError("a shared store delivers to URLs only, not to in-process callables")
        self._r.rpush(self._subs, json.dumps(sub.describe()))

    def log(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self._r.lrange(self._log, 0, -1)]

    def enqueue(self, sub: Subscription, headers: dict[str, str], payload: bytes) -> None:
        self._queue.enqueue(self._p, sub, headers, payload, attempts=self.attempts, backoff=self.backoff)

    def _record(self, entry: dict[str, Any]) -> None:
        self._guarded(keys=[self._meta, self._log], args=["rpush", _compact(entry)])
