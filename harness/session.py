"""One certification run: the contract, the connector's manifest, the sandbox and the results.

The sandbox starts on the first check that needs it and stops when the run ends, so collecting
(`--collect-only`) or a run with nothing selected starts nothing.
"""

from __future__ import annotations

import contextlib
import difflib
import gc
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.checks import LEVELS, REGISTRY, Check, CheckContext, CheckFailure, NotApplicable
from harness.checks.exposures import Exposures, credentials, scan_check
from harness.checks.registry import not_offered
from harness.checks.root_causes import suspect
from harness.config import HarnessConfig
from harness.connectors import (
    ConnectorFailed,
    ConnectorLoadError,
    ConnectorTimeout,
    Manifest,
    ManifestError,
    resolve_connector,
)
from harness.contract import Contract, load
from harness.preflight import check_contract, check_runtime, check_streams
from harness.report import build_predicate, file_sha256, load_private
from harness.report.certificate import audit_anchor
from harness.report.digest import changed_inputs, code_digest
from harness.report.fixes import paging_kind
from harness.report.mask import Masker, secrets_in
from harness.runtime import Runtime, SandboxHandle, runtime_for
from harness.runtime.handle import SandboxError
from harness.schedule import CheckSchedule


@dataclass
class CheckResult:
    id: str
    pillar: str
    severity: str
    title: str
    required: bool
    status: str  # passed | failed | not_applicable | error
    duration: float
    waived: str | None = None
    message: str = ""
    expected: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    audit: list[dict[str, Any]] = field(default_factory=list)  # each tenant's audit chain head
    # The check whose defect this failed check's scenario ran into (harness.checks.root_causes);
    # the certificate turns it into `inconclusive` when that check failed too.
    suspect: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


Outcome = tuple[CheckResult, BaseException | None]  # a check's result, and what it raised


class CertificationSession:
    def __init__(self, cfg: HarnessConfig, junitxml: Path | None = None) -> None:
        self.cfg = cfg
        self.junitxml = junitxml
        self.contract: Contract = load(cfg.contract)
        check_contract(self.contract)  # unusable hints or no collection: one usage error, not one per check
        assert cfg.connector is not None
        self.manifest: Manifest = resolve_connector(cfg.connector, cfg.rootdir, self.contract)
        check_streams(self.manifest, self.contract)
        check_runtime(self.manifest, self.contract, cfg.sandbox)  # mutualTLS: the embedded runtime only
        # Nothing may write into the connector's tree while it is certified (compiled files
        # included), so the digest taken now, before the first call, must still hold at the end.
        sys.dont_write_bytecode = True
        os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
        self.code_before = code_digest(self.manifest, self.outputs())
        self.masker = Masker.for_contract(self.contract)  # the contract's credential shapes too
        self.started_at = datetime.now(UTC)
        self._check_waivers()
        self.signing_key = load_private(cfg.signing_key) if cfg.signing_key else None
        self._runtime: Runtime | None = None
        self._start_error: Exception | None = None
        self._lock = threading.Lock()
        self._schedule: CheckSchedule[Outcome] | None = None
        self._schedule_lock = threading.Lock()
        self.exposures = Exposures()  # credential leaks found in every check's connectors, for SEC-01
        # The contract, the catalogue and every imported module live as long as the run: moved out
        # of the collector's generations, each full collection (pytest runs two at exit, hypothesis
        # one per registered Random) walks what the checks allocate only: ~0.3 s a collection less.
        gc.freeze()

    def outputs(self) -> list[Path]:
        """The files this run writes itself: never part of the code digest."""
        cfg = self.cfg
        paths = [p for p in (cfg.cert_report, cfg.cert_html, cfg.cert_md, self.junitxml) if p is not None]
        return [p.absolute() for p in paths]

    @property
    def sandbox(self) -> SandboxHandle:
        with self._lock:
            if self._start_error is not None:
                raise self._start_error
            if self._runtime is None:
                runtime = runtime_for(
                    self.cfg.sandbox,
                    self.contract,
                    contract_given=self.cfg.contract_given,
                    seed=self.cfg.seed,
                )
                try:
                    runtime.start()
                except Exception as exc:  # every check reports the same failure, once started
                    self._start_error = exc
                    raise
                self._runtime = runtime
            assert self._runtime.handle is not None
            return self._runtime.handle

    def close(self) -> None:
        if self._schedule is not None:
            self._schedule.stop()  # the checks still running finish before their sandbox stops
        if self._runtime is not None:
            self._runtime.stop()
            self._runtime = None

    def _check_waivers(self) -> None:
        known = [c.id for c in REGISTRY.all()]
        for check_id in self.manifest.waivers:
            if check_id not in known:
                close = difflib.get_close_matches(check_id, known, n=1)
                fix = f"did you mean {close[0]!r}?" if close else "use a check id from the catalogue (README)"
                raise ManifestError(
                    self.manifest.file,
                    "certification.waivers",
                    f"waives {check_id!r}, which is not a check",
                    fix,
                )

    def predicate(
        self, results: list[dict[str, Any]], fuzz_findings: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """The certificate's content for the results collected so far (and the fuzz findings
        replayed first, if any)."""
        manifest = self.manifest
        return build_predicate(
            connector={
                "name": manifest.name,
                "version": manifest.version,
                "spec": self.cfg.connector or "",
                "manifest": manifest.file,
                "digest": {"sha256": self.code_before["sha256"]},
                "inputs": self.code_before["inputs"],
            },
            contract={
                "title": self.contract.title,
                "file": str(self.cfg.contract),
                "digest": {"sha256": file_sha256(self.cfg.contract)},
                # how the synced streams page, so a fix text names it (harness.report.fixes)
                "paging": sorted({paging_kind(self.contract.collections[s]) for s in manifest.streams}),
            },
            sandbox=self.cfg.sandbox,
            seed=self.cfg.seed,
            cert_level=self.cfg.cert_level,
            started_at=self.started_at,
            checks=results,
            required=self.required_ids(),
            waivers=dict(manifest.waivers),
            replay=self.replay_command(),
            rootdir=str(self.cfg.rootdir),
            code_changed=changed_inputs(self.code_before, code_digest(manifest, self.outputs())),
            audit=audit_anchor(results),
            fuzz_findings=fuzz_findings,
        )

    def required(self, check: Check) -> bool:
        """Required checks decide the verdict: those at or below the certification level."""
        return LEVELS.index(check.level) <= LEVELS.index(self.cfg.cert_level)

    def required_ids(self) -> set[str]:
        return {c.id for c in REGISTRY.select(level=self.cfg.cert_level)}

    def selected(self) -> list[Check]:
        return REGISTRY.select(
            list(self.cfg.checks), level=self.cfg.cert_level if not self.cfg.checks else "strict"
        )

    def outcome(self, check: Check, planned: Sequence[Check]) -> Outcome:
        """A check's result and what it raised. With one worker it runs now; with more, the first
        call starts every planned check (`--check-workers` at once, the exclusive ones alone at
        the end) and each call waits for its own. Results are the same either way: a check's
        tenants, seeds and connector are its own, whatever ran beside it."""
        if self.cfg.check_workers <= 1:
            return self.run_check(check)
        with self._schedule_lock:
            if self._schedule is None:
                self._schedule = CheckSchedule(self.run_check, planned, self.cfg.check_workers)
        if check not in self._schedule:  # not planned at the start (a rerun plugin, say): runs now
            return self.run_check(check)
        return self._schedule.result(check)

    def run_check(self, check: Check) -> Outcome:
        """Run one check under its time limit: its result, and what it raised (None if it passed)."""
        ctx = CheckContext(
            check.id,
            self.sandbox,
            self.contract,
            self.manifest,
            self.cfg.seed,
            call_timeout=self.cfg.call_timeout,
            exposures=self.exposures,
        )
        started = time.perf_counter()
        outcome: dict[str, BaseException] = {}

        def body() -> None:
            try:
                not_offered(check, self.contract)
                check.func(ctx)
            except BaseException as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=body, name=f"check:{check.id}", daemon=True)
        thread.start()
        thread.join(check.timeout)
        error = outcome.get("error")
        if thread.is_alive():
            error = CheckFailure(
                check.id,
                f"the check did not finish within its time limit of "
                f"{check.timeout:g} s (a connector call hung or looped)",
            )
        for tenant in ctx.tenants:
            self.masker.add(tenant.client_secret, *secrets_in(tenant.info))
        self.masker.add(*ctx.masked)
        self.masker.add(*credentials(r.config for r in ctx.recorded).values())  # webhook secrets too
        if not thread.is_alive() and not check.last and any(c.last for c in self.selected()):
            self._scan_exposures(ctx)
        heads, broken = self._audit_heads(ctx)
        if broken and error is None:
            error = RuntimeError(f"the sandbox's audit log does not verify: {broken[0]}")
        result = self._result(check, error, time.perf_counter() - started)
        if result.status in ("failed", "error"):
            refused = sum(front.refused for front in ctx.fronts.all())
            found = suspect(check, self._request_logs(ctx), refused)
            result.suspect = found.to_dict() if found else None
        result = self.mask(result)
        result.audit = heads
        for tenant in ctx.tenants:
            with contextlib.suppress(Exception):  # a tenant left behind does not change the verdict
                tenant.delete()
        ctx.fronts.close()
        return result, error

    def _scan_exposures(self, ctx: CheckContext) -> None:
        """Look for the credentials this check handed its connectors in what they produced (SEC-01
        judges the ledger last). A scan that cannot read its evidence is noted, never fatal."""
        try:
            self.exposures.add(ctx.check_id, scan_check(ctx))
        except Exception as exc:
            self.exposures.add(ctx.check_id, {})
            self.exposures.problems.append(f"{ctx.check_id}: {type(exc).__name__}: {exc}")

    def _audit_heads(self, ctx: CheckContext) -> tuple[list[dict[str, Any]], list[str]]:
        """Each tenant's audit chain head (what the certificate anchors) and any break in a chain."""
        heads, broken = [], []
        for tenant in ctx.tenants:
            try:
                audit = tenant.audit()
            except SandboxError as exc:
                if "-> 404" not in str(exc):  # a tenant the check deleted itself has no log to anchor
                    broken.append(f"tenant {tenant.id}: {exc}")
                continue
            heads.append({"tenant": tenant.id, "key_id": audit["key_id"], **audit["head"]})
            broken += [f"tenant {tenant.id}: {p}" for p in audit["problems"]]
        return heads, broken

    def _request_logs(self, ctx: CheckContext) -> list[Any]:
        logs: list[Any] = list(ctx.released)
        for tenant in ctx.tenants:
            with contextlib.suppress(Exception):  # a tenant the check deleted itself has no log
                logs.append(tenant.requests())
        return logs

    def mask(self, result: CheckResult) -> CheckResult:
        """The result with every credential and canary masked out of connector-controlled text."""
        result.message = self.masker.text(result.message)
        result.expected = self.masker.text(result.expected)
        result.evidence = self.masker.value(result.evidence)
        if result.suspect:
            result.suspect = {k: self.masker.text(v) for k, v in result.suspect.items()}
        return result

    def _result(self, check: Check, error: BaseException | None, duration: float) -> CheckResult:
        base: dict[str, Any] = dict(
            required=self.required(check),
            waived=self.manifest.waivers.get(check.id),
            id=check.id,
            pillar=check.pillar,
            severity=check.severity,
            title=check.title,
            duration=round(duration, 3),
        )
        if error is None:
            return CheckResult(status="passed", **base)
        if isinstance(error, CheckFailure):
            return CheckResult(
                status="failed",
                message=error.message,
                expected=error.expected,
                evidence=error.evidence.to_dict(),
                **base,
            )
        if isinstance(error, NotApplicable):
            return CheckResult(status="not_applicable", message=error.reason, **base)
        if isinstance(error, ConnectorLoadError | ConnectorFailed | ConnectorTimeout):
            return CheckResult(status="failed", message=str(error), **base)
        return CheckResult(status="error", message=f"{type(error).__name__}: {error}", **base)

    def replay_command(self, check_id: str | None = None) -> str:
        parts = ["pytest", f"--connector={self.cfg.connector}"]
        if self.cfg.contract_given:
            parts.append(f"--contract={self.cfg.contract}")
        if self.cfg.sandbox != "embedded":
            parts.append(f"--sandbox={self.cfg.sandbox}")
        parts.append(f"--seed={self.cfg.seed}")
        if check_id:
            parts.append(f"--checks={check_id}")
        return " ".join(parts)
