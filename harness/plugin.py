"""The pytest plugin (entry point `pytest11: harness`): hooks and fixtures only.

Heavy modules (sandbox, Faker, the checks) are imported inside hooks, and only when
`--connector` is given, so a suite that never certifies pays nothing for the plugin.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from harness.config import HarnessConfig
    from harness.connectors import Driver, Replica
    from harness.runtime import SandboxHandle, TenantHandle
    from harness.session import CertificationSession

CONFIG_KEY: pytest.StashKey[HarnessConfig] = pytest.StashKey()
SESSION_KEY: pytest.StashKey[CertificationSession] = pytest.StashKey()
RESULTS_KEY: pytest.StashKey[dict[str, Any]] = pytest.StashKey()


def pytest_addoption(parser: pytest.Parser) -> None:
    from harness.config import add_options

    add_options(parser)
    parser.getgroup("harness").addoption(
        "--fuzz-findings",
        metavar="DIR",
        help="replay the saved findings of a `harness fuzz` campaign (its folder, findings/ or one file) "
        "before the checks; each fails while its defect is still there",
    )


def pytest_configure(config: pytest.Config) -> None:
    from harness.config import check_names, resolve

    config.addinivalue_line("markers", "harness_check(id): a connector-harness certification check")
    workerinput = getattr(config, "workerinput", None)
    cfg = resolve(config)
    if workerinput and "harness_seed" in workerinput:  # xdist: every worker uses the controller's seed
        from dataclasses import replace

        # one check at a time per worker: the controller hands each worker its checks one by one
        cfg = replace(cfg, seed=int(workerinput["harness_seed"]), seed_given=True, check_workers=1)
    config.stash[CONFIG_KEY] = cfg
    if not cfg.active:
        return
    collector = ResultCollector()
    config.pluginmanager.register(collector, "harness-results")
    config.stash[RESULTS_KEY] = {"collector": collector}
    from harness.checks import PILLARS, REGISTRY
    from harness.connectors import ConnectorLoadError, ManifestError
    from harness.contract import ContractError
    from harness.preflight import SetupError, check_connector
    from harness.report import SigningError
    from harness.session import CertificationSession

    check_names(cfg.checks, [c.id for c in REGISTRY.all()], list(PILLARS))
    if cfg.cert_report is not None and workerinput is None:
        cfg.cert_report.unlink(missing_ok=True)  # a run that writes none never leaves a stale one
    try:
        from pathlib import Path

        xml = getattr(config.option, "xmlpath", None)
        session = CertificationSession(cfg, Path(xml).absolute() if xml else None)
        check_connector(session.manifest)
    except (ContractError, ManifestError, ConnectorLoadError, SigningError, SetupError) as exc:
        raise pytest.UsageError(f"connector-harness: {exc}") from None
    config.stash[SESSION_KEY] = session
    _private_hypothesis_home(config)


def _private_hypothesis_home(config: pytest.Config) -> None:
    """Hypothesis keeps caches (constants, unicode data) under ./.hypothesis; a certification writes
    nothing into the working directory but its reports, so they go to a temp folder removed at exit."""
    import shutil
    import tempfile

    from hypothesis.configuration import set_hypothesis_home_dir

    home = tempfile.mkdtemp(prefix="harness-hypothesis-")
    set_hypothesis_home_dir(home)
    config.add_cleanup(lambda: shutil.rmtree(home, ignore_errors=True))


def pytest_sessionstart(session: pytest.Session) -> None:
    """Start the sandbox before any check: a runtime that cannot start is one usage error, not one
    failure per check. The xdist controller runs no check, so only its workers start one."""
    config = session.config
    cert = config.stash.get(SESSION_KEY, None)
    if cert is None or config.option.collectonly or config.pluginmanager.has_plugin("dsession"):
        return
    try:
        cert.sandbox  # noqa: B018 -- starting it is the point
    except Exception as exc:
        cert.close()
        kind = cert.cfg.sandbox.partition(":")[0]
        raise pytest.UsageError(f"connector-harness: the {kind} sandbox did not start: {exc}") from None


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    node.workerinput["harness_seed"] = node.config.stash[CONFIG_KEY].seed


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is not None:
        session.close()


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    session = config.stash.get(SESSION_KEY, None)
    if session is None:
        return None
    cfg = session.cfg
    return [
        f"harness: certifying {session.manifest.label} ({session.manifest.file}) against "
        f"{session.contract.title} ({cfg.contract}); sandbox {cfg.sandbox}; seed {cfg.seed}"
    ]


def pytest_ignore_collect(collection_path: Any, config: pytest.Config) -> bool | None:
    """`pytest --connector=X` alone runs only the certification; name test paths to run them too."""
    session = config.stash.get(SESSION_KEY, None)
    if session is not None and config.args_source != pytest.Config.ArgsSource.ARGS:
        return True
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    cert = config.stash.get(SESSION_KEY, None)
    if cert is None:
        return
    from harness.items import CertificationCollector, CheckItem

    root = CertificationCollector.from_parent(session, name="certification", nodeid="certification")
    if config.getoption("fuzz_findings", None):
        from harness.fuzz.findings import FindingError
        from harness.fuzz.item import finding_items

        try:
            items.extend(finding_items(root, config.getoption("fuzz_findings"), cert))
        except FindingError as exc:
            raise pytest.UsageError(f"connector-harness: {exc}") from None
    pillars: dict[str, CertificationCollector] = {}
    for check in cert.selected():
        if check.pillar not in pillars:
            pillars[check.pillar] = CertificationCollector.from_parent(
                root, name=check.pillar, nodeid=f"certification::{check.pillar}"
            )
        items.append(
            CheckItem.from_parent(
                pillars[check.pillar],
                name=check.id,
                check=check,
                nodeid=f"certification::{check.pillar}::{check.id}",
            )
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Mask credentials and canaries in what the terminal and JUnit show of a check: its failure
    text, skip/xfail reason and captured output all may quote the connector."""
    outcome = yield
    cert = item.config.stash.get(SESSION_KEY, None)
    if cert is None or not item.nodeid.startswith("certification::"):
        return
    report = outcome.get_result()
    from harness.report.text import printable

    def mask(text: str) -> str:
        return printable(cert.masker.text(text))

    if report.longrepr is not None:
        if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
            path, line, reason = report.longrepr
            report.longrepr = (path, line, mask(str(reason)))
        else:
            report.longrepr = mask(str(report.longrepr))
    if hasattr(report, "wasxfail"):
        report.wasxfail = mask(report.wasxfail)
    report.sections = [(title, mask(text)) for title, text in report.sections]


class ResultCollector:
    """Collects check results from reports, so it works the same under xdist (on the controller)."""

    def __init__(self) -> None:
        self.results: dict[str, Any] = {}
        self.fuzz_findings: dict[str, Any] = {}  # replayed `--fuzz-findings`, by id

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == "harness_result" and (report.when == "call" or report.skipped):
                result = json.loads(str(value))
                self.results[result["id"]] = result
            elif name == "harness_fuzz_finding" and report.when == "call":  # fuzz/item.py
                finding = json.loads(str(value))
                self.fuzz_findings[finding["id"]] = finding


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    cert = config.stash.get(SESSION_KEY, None)
    if cert is None or hasattr(config, "workerinput"):
        return
    from harness.report import envelope, render_html, render_markdown, statement, write_json

    collector = config.stash[RESULTS_KEY]["collector"]
    collected = collector.results
    replayed = [collector.fuzz_findings[k] for k in sorted(collector.fuzz_findings)] or None
    predicate = cert.predicate([collected[c.id] for c in cert.selected() if c.id in collected], replayed)
    config.stash[RESULTS_KEY]["predicate"] = predicate
    if not predicate["checks"]:
        return
    cfg = cert.cfg
    if cfg.cert_report is not None:
        write_json(cfg.cert_report, envelope(statement(predicate), cert.signing_key))
    signed = cert.signing_key is not None
    for path, render in ((cfg.cert_html, render_html), (cfg.cert_md, render_markdown)):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(predicate, signed), encoding="utf-8")
    if predicate["verdict"] == "not certified" and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED  # the gate: a waived-away failure is not a pass


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    predicate = config.stash.get(RESULTS_KEY, {}).get("predicate")
    if not predicate or not predicate["checks"]:
        return
    from harness.report import summary_lines

    cfg = config.stash[CONFIG_KEY]
    paths = [str(p) for p in (cfg.cert_report, cfg.cert_html, cfg.cert_md) if p is not None]
    writer = terminalreporter._tw
    terminalreporter.section("connector certification")
    tty = writer.hasmarkup or getattr(writer._file, "isatty", lambda: False)()
    width = max(writer.fullwidth, 80)
    lines = summary_lines(predicate, paths, color=writer.hasmarkup, width=width, terminal=tty)
    for line in lines:
        terminalreporter.write_line(line)


# -- fixtures for integrators' own tests ------------------------------------------------------------


@pytest.fixture(scope="session")
def harness_sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxHandle]:
    """The run's sandbox (a SandboxHandle): the certification's own, or one started for this session."""
    cert = request.config.stash.get(SESSION_KEY, None)
    if cert is not None:
        yield cert.sandbox
        return
    from harness.contract import load
    from harness.runtime import runtime_for

    cfg = request.config.stash[CONFIG_KEY]
    runtime = runtime_for(cfg.sandbox, load(cfg.contract), contract_given=cfg.contract_given, seed=cfg.seed)
    handle = runtime.start()
    try:
        yield handle
    finally:
        runtime.stop()


@pytest.fixture
def harness_tenant(request: pytest.FixtureRequest, harness_sandbox: SandboxHandle) -> Iterator[TenantHandle]:
    """A fresh tenant for one test, seeded from --seed and the test's id (so reruns match)."""
    import hashlib

    cfg = request.config.stash[CONFIG_KEY]
    digest = hashlib.blake2b(f"{cfg.seed}:{request.node.nodeid}".encode(), digest_size=4).digest()
    tenant = harness_sandbox.new_tenant(seed=int.from_bytes(digest, "big"))
    yield tenant
    tenant.delete()


@pytest.fixture
def harness_replica(request: pytest.FixtureRequest) -> Replica:
    """An empty replica sink (keyed by each collection's id field when a contract is known)."""
    from harness.connectors import Replica

    cert = request.config.stash.get(SESSION_KEY, None)
    if cert is None:
        return Replica()
    return Replica(id_fields={name: col.id_field for name, col in cert.contract.collections.items()})


@pytest.fixture
def harness_connector(
    request: pytest.FixtureRequest, harness_tenant: TenantHandle, harness_replica: Replica
) -> Iterator[Driver]:
    """The --connector, built for a fresh tenant and writing into `harness_replica`."""
    cert = request.config.stash.get(SESSION_KEY, None)
    if cert is None:
        pytest.fail("harness_connector needs --connector (a connector.toml, its folder, or module:Class)")
    from harness.checks.fronts import Fronts
    from harness.connectors import driver_for

    fronts = Fronts()  # mutualTLS: the tenant's client-certificate front, as in a check
    config = cert.manifest.connector_config(harness_tenant)
    config.update(fronts.config(cert.contract, cert.manifest, harness_tenant))
    connector = driver_for(cert.manifest, config, harness_replica, cert.cfg.call_timeout)
    yield connector
    connector.close()
    fronts.close()
