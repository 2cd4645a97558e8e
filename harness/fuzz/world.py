"""What a campaign fuzzes against: one sandbox and one connector, set up as a certification does.

The sandbox is the embedded runtime (or any runtime by name); the connector runs isolated behind
the `Driver` protocol, one driver per example, so an example's outcome depends on its input only
(which is what lets hypothesis shrink and a saved finding replay).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.checks.fronts import Fronts, unserved_reason
from harness.connectors import (
    ConnectorFailed,
    ConnectorTimeout,
    Driver,
    Manifest,
    Replica,
    driver_for,
    resolve_connector,
)
from harness.contract import Contract, ContractError, default_contract_path, load
from harness.core.changes import CREATED_NAMES
from harness.report.mask import PATTERNS
from harness.runtime import Runtime, SandboxHandle, TenantHandle, runtime_for

RunError = ConnectorFailed | ConnectorTimeout
DEFAULT_CALL_TIMEOUT = 30.0


@dataclass
class Run:
    """One connector run: what it stored, what it said, and how each call ended."""

    tenant: TenantHandle
    replica: Replica
    errors: list[RunError] = field(default_factory=list)
    stderr: tuple[str, ...] = ()
    peak_kib: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class World:
    contract: Contract
    manifest: Manifest
    sandbox: SandboxHandle
    runtime: Runtime | None = None
    call_timeout: float = DEFAULT_CALL_TIMEOUT
    seed: int = 0
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)
    fronts: Fronts = field(default_factory=Fronts, repr=False)  # mutualTLS: one per tenant

    @classmethod
    def start(
        cls,
        connector: str,
        contract_file: str | Path | None = None,
        *,
        sandbox: str = "embedded",
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        seed: int = 0,
        rootdir: Path | None = None,
    ) -> World:
        """Load the contract and the connector's manifest, then start the sandbox."""
        contract = load(contract_file or default_contract_path())
        manifest = resolve_connector(connector, rootdir or Path.cwd(), contract)
        unserved = unserved_reason(contract, manifest, sandbox)
        if unserved is not None:
            raise ValueError(unserved)  # the command reports it as a usage error
        runtime = runtime_for(sandbox, contract, contract_given=contract_file is not None, seed=seed)
        handle = runtime.start()
        return cls(contract, manifest, handle, runtime, call_timeout, seed)

    def close(self) -> None:
        self.fronts.close()
        if self.runtime is not None:
            self.runtime.stop()
            self.runtime = None

    # -- tenants and connectors -----------------------------------------------------------------

    def seed_for(self, purpose: str) -> int:
        digest = hashlib.blake2b(f"{self.seed}:fuzz:{purpose}".encode(), digest_size=4).digest()
        return int.from_bytes(digest, "big")

    def tenant(self, seed: int, sizes: dict[str, int], profile: str | None = None) -> TenantHandle:
        """A fresh tenant: `sizes` for the streams, nothing in the other collections."""
        all_sizes = {name: sizes.get(name, 0) for name in self.contract.collections}
        return self.sandbox.new_tenant(seed=seed, sizes=all_sizes, profile=profile)

    def replica(self) -> Replica:
        return Replica(id_fields={name: col.id_field for name, col in self.contract.collections.items()})

    def connector(self, tenant: TenantHandle, replica: Replica, webhook_secret: str | None = None) -> Driver:
        config = self.manifest.connector_config(tenant, webhook_secret)
        config.update(self.fronts.config(self.contract, self.manifest, tenant))
        driver = driver_for(self.manifest, config, replica, self.call_timeout)
        driver.sample_memory = True
        return driver

    def sync(
        self,
        tenant: TenantHandle,
        replica: Replica | None = None,
        state: Any = None,
        *,
        driver: Driver | None = None,
        check_first: bool = True,
    ) -> Run:
        """check() (unless told not to) then sync(state), on a fresh driver or on `driver`, which
        stays open; errors are kept, never raised."""
        run = Run(tenant, replica if replica is not None else self.replica())
        own = driver is None
        driver = driver or self.connector(tenant, run.replica)
        calls = [(driver.check, ()), (driver.sync, (state,))] if check_first else [(driver.sync, (state,))]
        try:
            for call, args in calls:
                try:
                    call(*args)
                except (ConnectorFailed, ConnectorTimeout) as exc:
                    run.errors.append(exc)
                    break
        finally:
            diagnostics = driver.diagnostics()
            if own:
                driver.close()
        run.stderr, run.peak_kib = diagnostics.stderr, diagnostics.peak_kib
        return run

    # -- ground truth ---------------------------------------------------------------------------

    def expected(self, stream: str, record: dict[str, Any]) -> dict[str, Any]:
        """A platform record as the replica should hold it: cut to the declared fields, if any."""
        names = self.manifest.fields.get(stream)
        if not names:
            return record
        keep = {self.contract.collections[stream].id_field, *names}
        return {k: v for k, v in record.items() if k in keep}

    def differences(self, tenant: TenantHandle, replica: Replica) -> list[tuple[str, str, Any, list[str]]]:
        """(stream, lost|extra|stale, id, fields) for every way the replica differs from the platform."""
        out: list[tuple[str, str, Any, list[str]]] = []
        for stream in self.manifest.streams:
            col = self.contract.collections[stream]
            truth = {r[col.id_field]: self.expected(stream, r) for r in tenant.records(stream)}
            rows = {i: self.expected(stream, r) for i, r in replica.rows.get(stream, {}).items()}
            out += [(stream, "lost", i, []) for i in truth if i not in rows]
            out += [(stream, "extra", i, []) for i in rows if i not in truth]
            for i in truth:
                if i in rows and rows[i] != truth[i]:
                    fields = sorted(k for k in {*truth[i], *rows[i]} if rows[i].get(k) != truth[i].get(k))
                    out.append((stream, "stale", i, fields))
        return out

    def code_roots(self) -> tuple[str, ...]:
        """The folders the connector's own code lives in (its frames locate a crash)."""
        roots = [self.manifest.root, *(self.manifest.root / p for p in self.manifest.python_path)]
        return tuple(str(Path(r).resolve()) for r in roots)

    def fixed_fields(self, stream: str) -> set[str]:
        """Fields the platform sets itself (id, timestamps): never planted by a fuzzer."""
        col = self.contract.collections[stream]
        return {col.id_field, *(n for n in (col.updated_field,) if n), *CREATED_NAMES}

    def credential_shapes(self) -> tuple[re.Pattern[str], ...]:
        """What credentials and canaries look like: the harness's shapes and the contract's own
        formats (an access token the harness never sees in full is known by its shape)."""
        if "shapes" not in self._cache:
            from harness.sandbox.credentials import contract_formats, mask_patterns

            try:
                own = mask_patterns(contract_formats(self.contract))
            except ContractError:
                own = []
            self._cache["shapes"] = (*PATTERNS, *own)
        return tuple(self._cache["shapes"])

    def operations(self) -> list[str]:
        """The operations the connector uses on an ordinary tenant (learned once, by a sync)."""
        if "operations" not in self._cache:
            tenant = self.tenant(self.seed_for("baseline"), {s: 3 for s in self.manifest.streams})
            try:
                self.sync(tenant)
                seen = [e.operation for e in tenant.requests()]
            finally:
                tenant.delete()
            self._cache["operations"] = sorted({op for op in seen if op})
        return list(self._cache["operations"])
