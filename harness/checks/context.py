"""What a check works with: fresh tenants, a connector bound to each, and the sandbox's evidence."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.checks.diff import StreamDiff, compare
from harness.checks.exposures import Exposures, RecordedDriver
from harness.checks.failures import CheckFailure, Evidence, Finding
from harness.checks.fronts import Fronts
from harness.checks.run import Run, RunError
from harness.connectors import ConnectorFailed, ConnectorTimeout, Driver, Manifest, Replica, driver_for
from harness.contract import Collection, Contract
from harness.contract.links import without_self_links
from harness.core import LoggedRequest, RequestLog
from harness.runtime import SandboxHandle, TenantHandle

Truth = dict[str, dict[Any, dict[str, Any]]]  # stream -> id -> record: ground truth a check built
REVOKED_CALL_TIMEOUT = 10.0  # seconds a connector may take to give up on revoked credentials
__all__ = ["CheckContext", "Driver", "Run", "RunError", "StreamDiff", "Truth", "compare"]


# A stream synced under every parent (`[connector.parents]`) gets its parent collection's records
# too: this many, of which the sandbox places the stream's seed records under the first
# NESTED_PARENTS (harness.sandbox.store.scoped.PARENTS_PER_COLLECTION); the others hold none.
PARENT_RECORDS = 5
NESTED_PARENTS = 3


@dataclass
class CheckContext:
    check_id: str
    sandbox: SandboxHandle
    contract: Contract
    manifest: Manifest
    seed: int
    call_timeout: float = 60.0
    tenants: list[TenantHandle] = field(default_factory=list)
    masked: set[str] = field(default_factory=set)  # values planted by the check: masked in every rendering
    fitted: dict[str, str] = field(default_factory=dict)  # stream -> why it got fewer records than asked
    # the run's ledger of credential leaks (SEC-01 reads it), and every connector this check
    # built, with the errors its calls raised: what the session scans when the check ends
    exposures: Exposures | None = None
    recorded: list[RecordedDriver] = field(default_factory=list)
    fronts: Fronts = field(default_factory=Fronts)  # mutualTLS: each tenant's front (checks/fronts.py)
    released: list[RequestLog] = field(default_factory=list)  # logs of tenants `release`d mid-check

    def plant(self, *values: str) -> None:
        """Remember values the check planted (canaries), so the session masks them wherever
        connector-controlled text is rendered, in any letter case."""
        for value in values:
            self.masked.update({value, value.lower(), value.upper()})

    def seed_for(self, purpose: str = "") -> int:
        """A seed per check (and purpose), derived from the run's seed: reproducible, independent."""
        digest = hashlib.blake2b(f"{self.seed}:{self.check_id}:{purpose}".encode(), digest_size=4).digest()
        return int.from_bytes(digest, "big")

    def tenant(
        self,
        sizes: dict[str, int] | None = None,
        *,
        token_ttl: int = 3600,
        purpose: str = "",
        profile: str | None = None,
        rate_limit: tuple[float, int] | None = None,
        scopes: list[str] | None = None,
        seed: int | None = None,
        keep: bool = True,
        evolve: int | None = None,
    ) -> TenantHandle:
        """A fresh tenant. Default: a few records in every stream the connector syncs, none elsewhere.
        `seed` replaces the purpose's seed; `keep=False` leaves deleting it to the caller;
        `evolve` serves it from the contract's next additive version (harness.contract.evolve)."""
        if sizes is None:
            sizes = {stream: 25 for stream in self.manifest.streams}
        for parent in self.manifest.parents.values():  # a stream under every parent needs parents
            sizes = {**sizes, parent: max(sizes.get(parent, 0), PARENT_RECORDS)}
        if profile is None:
            sizes = {name: sizes.get(name, 0) for name in self.contract.collections}
        token = self.contract.token_operation
        tenant = self.sandbox.new_tenant(
            seed=self.seed_for(purpose) if seed is None else seed,
            sizes=sizes,
            token_ttl=token_ttl,
            profile=profile,
            rate_limit=rate_limit,
            scopes=scopes,
            token_operation=token.operation_id if token else None,
            evolve=evolve,
        )
        # the sandbox gives a collection whose ids hold fewer records than asked as many as fit
        # (tenant.sizes); checks judge what the tenant holds, and `fitted` says why it is fewer
        self.fitted.update(tenant.info.get("fitted") or {})
        if keep:
            self.tenants.append(tenant)
        return tenant

    def platform_threads(self, tenant: TenantHandle) -> list[int]:
        """This process's threads that serve `tenant` (the embedded sandbox's server thread and
        the tenant's mutualTLS front, if any): their CPU waits hold its connector up too."""
        front = self.fronts.front(tenant)
        relay = [front.native_id] if front is not None and front.native_id is not None else []
        return [*self.sandbox.platform_threads(), *relay]

    def release(self, tenant: TenantHandle) -> None:
        """Delete a tenant before the check ends, keeping its request log: the session reads it
        for root causes (a sync refused for breaking the contract) like those of kept tenants."""
        with contextlib.suppress(Exception):
            self.released.append(tenant.requests())
        with contextlib.suppress(Exception):
            tenant.delete()
        if tenant in self.tenants:
            self.tenants.remove(tenant)

    # -- the contract, as checks ask about it ----------------------------------------------------

    def streams(self) -> list[Collection]:
        """The collections the connector syncs, in the manifest's order."""
        return [self.contract.collections[s] for s in self.manifest.streams]

    def page_size(self, stream: str) -> int:
        """The largest page the contract lets a list of this stream return."""
        pagination = self.contract.collections[stream].pagination
        return pagination.max_limit or pagination.default_limit or 100

    def pages(self, stream: str, pages: float) -> int:
        """Records for this many pages at the largest page size (more at any smaller one), under
        each parent that holds seed records where the connector syncs the stream under every
        parent (`[connector.parents]`); the sandbox cuts it to what the stream's id space holds."""
        under = NESTED_PARENTS if stream in self.manifest.parents else 1
        return int(self.page_size(stream) * pages) * under

    def list_op(self, stream: str) -> str:
        return self.contract.collections[stream].list_op.operation_id

    def list_ops(self) -> dict[str, str]:
        """operationId -> stream, for the list operations of the streams the connector syncs."""
        return {c.list_op.operation_id: c.name for c in self.streams()}

    def truth(self, tenant: TenantHandle) -> Truth:
        """Ground truth now, read by the harness: stream -> id -> record. A nested stream's is
        the union over every parent (the sandbox's records of the collection, whatever parent
        each is under): a connector that syncs it under one parent only lacks the others'."""
        return {c.name: {r[c.id_field]: r for r in tenant.records(c.name)} for c in self.streams()}

    def replica(self) -> Replica:
        return Replica(id_fields={name: col.id_field for name, col in self.contract.collections.items()})

    def connector(
        self,
        tenant: TenantHandle,
        replica: Any = None,
        *,
        webhook_secret: str | None = None,
        config: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Driver:
        """The connector bound to a tenant (with `config` instead of the manifest's, if given);
        each call under `timeout` seconds (the run's call timeout by default)."""
        config = config if config is not None else self.config(tenant, webhook_secret=webhook_secret)
        sink = replica if replica is not None else self.replica()
        driver = driver_for(self.manifest, config, sink, self.call_timeout if timeout is None else timeout)
        recorded = RecordedDriver(driver, config, sink)
        self.recorded.append(recorded)
        return recorded  # a Driver by delegation

    def config(self, tenant: TenantHandle, *, webhook_secret: str | None = None) -> dict[str, Any]:
        """The manifest's config for a tenant; where the connector's operations take a TLS
        client certificate, the platform behind the tenant's front and the files to present."""
        config = self.manifest.connector_config(tenant, webhook_secret)
        config.update(self.fronts.config(self.contract, self.manifest, tenant))
        return config

    def expected(self, stream: str, record: dict[str, Any]) -> dict[str, Any]:
        """What the replica should hold for a platform record: all of it, or only its id and the
        fields the manifest declares for the stream (`[connector.fields]`, data minimization).
        Checks that compare the replica with ground truth compare against this."""
        names = self.manifest.fields.get(stream)
        if not names:
            return record
        keep = {self.contract.collections[stream].id_field, *names}
        return {k: v for k, v in record.items() if k in keep}

    def compared(self, stream: str, record: dict[str, Any]) -> dict[str, Any]:
        """`expected`, without the record's links to itself (where the sandbox served it, not
        customer data: harness.contract.links): what replica and ground truth are compared on."""
        col = self.contract.collections[stream]
        return without_self_links(self.contract, col, self.expected(stream, record))

    def diff(
        self,
        tenant: TenantHandle,
        replica: Replica,
        truth_by_stream: Truth | None = None,
    ) -> list[StreamDiff]:
        """The streams whose replica differs from ground truth (empty when all match), both
        sides cut to the fields the connector keeps (`expected`) and without the record's links
        to itself (harness.contract.links). Ground truth is the platform's
        records now, or `truth_by_stream` (stream -> id -> record) when the check built it."""
        out = []
        for stream in self.manifest.streams:
            col = self.contract.collections[stream]
            records = (
                truth_by_stream[stream].values() if truth_by_stream is not None else tenant.records(stream)
            )
            truth = {r[col.id_field]: self.compared(stream, r) for r in records}
            rows = {i: self.compared(stream, r) for i, r in replica.rows.get(stream, {}).items()}
            diff = compare(stream, truth, rows)
            if diff is not None:
                out.append(diff)
        return out

    def differences(self, tenant: TenantHandle, replica: Replica) -> list[str]:
        """`diff` as one phrase per stream: what a failure message says."""
        return [d.phrase() for d in self.diff(tenant, replica)]

    def require_converged(
        self,
        tenant: TenantHandle,
        replica: Replica,
        *,
        after: str,
        expected: str,
        requests: Iterable[LoggedRequest] | None = None,
    ) -> None:
        """Fail unless the replica equals the platform: `after ..., the replica differs ...`."""
        problems = self.differences(tenant, replica)
        if problems:
            raise self.fail(
                f"{after}, the replica differs from the platform: {'; '.join(problems)}",
                expected=expected,
                requests=requests,
            )

    def omitted(self, stream: str, error: Any) -> bool:
        """True for a schema error that only says a stored record lacks a required field the
        manifest does not declare for the stream (data minimization leaves it out on purpose)."""
        names = self.manifest.fields.get(stream)
        if not names or error.validator != "required" or list(error.absolute_path):
            return False
        keep = {self.contract.collections[stream].id_field, *names}
        missing = set(error.validator_value) - set(error.instance)
        return bool(missing) and not (missing & keep)

    def sync(
        self,
        tenant: TenantHandle,
        state: Any = None,
        *,
        check_first: bool = True,
        config: dict[str, Any] | None = None,
        replica: Replica | None = None,
        timeout: float | None = None,
    ) -> Run:
        """Build the connector for a tenant (with `config` instead of the manifest's, if given),
        run check() (optionally) and sync(state) into `replica` (a fresh one by default)."""
        replica = replica if replica is not None else self.replica()
        run = Run(tenant, replica)
        connector = self.connector(tenant, replica, config=config, timeout=timeout)
        try:
            if check_first:
                connector.check()
            connector.sync(state)
        except (ConnectorFailed, ConnectorTimeout) as exc:
            run.error = exc
        finally:
            run.egress = connector.egress()
            connector.close()
        return run

    def fail(
        self,
        message: str,
        *,
        expected: str = "",
        requests: Iterable[LoggedRequest] | None = None,
        **details: Any,
    ) -> CheckFailure:
        samples = list(requests or [])[:5]
        evidence = Evidence(requests=[r.summary() for r in samples], details=details)
        return CheckFailure(self.check_id, message, expected=expected, evidence=evidence)

    def require(self, finding: Finding | None) -> None:
        """Raise the check's failure for a judgement's finding; nothing when the judgement passed."""
        if finding is not None:
            raise self.fail(
                finding.message, expected=finding.expected, requests=finding.requests, **dict(finding.details)
            )
