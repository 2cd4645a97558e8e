"""Plugin settings, resolved once: command line > ini file > HARNESS_* environment > default.

The result is frozen and kept in `config.stash`; bad values are a UsageError that says what
is allowed and, for near misses, what was probably meant.
"""

from __future__ import annotations

import difflib
import math
import os
import random
from dataclasses import dataclass
from pathlib import Path

import pytest

SANDBOXES = ("embedded", "container")  # and url:http://host:port
LEVELS = ("basic", "standard", "strict")


@dataclass(frozen=True)
class Option:
    name: str  # the dest, e.g. "cert_report"
    flag: str
    help: str
    metavar: str = "VALUE"

    @property
    def env(self) -> str:
        return "HARNESS_" + self.name.upper()

    @property
    def ini(self) -> str:
        return "harness_" + self.name


OPTIONS = (
    Option(
        "connector",
        "--connector",
        "the connector to certify: a connector.toml, a folder holding one, "
        "or module:Class. Without it the plugin stays out of the way.",
        "PATH",
    ),
    Option(
        "contract",
        "--contract",
        "the platform's OpenAPI contract (default: the bundled reference contract)",
        "FILE",
    ),
    Option(
        "sandbox",
        "--sandbox",
        "where the sandbox runs: embedded (in this process, the default), container (Docker; build the "
        "image with `harness image build`) or url:http://host:port (one already running; its admin "
        "token in HARNESS_ADMIN_TOKEN)",
        "KIND",
    ),
    Option(
        "seed", "--seed", "seed for data, faults and property tests (default: random; always printed)", "N"
    ),
    Option(
        "checks",
        "--checks",
        "run only these checks: comma-separated ids or pillars, e.g. AUTH-01,integrity",
        "IDS",
    ),
    Option(
        "cert_level",
        "--cert-level",
        f"certification level: {', '.join(LEVELS)} (default: standard); decides which checks run and "
        "which the verdict requires",
        "LEVEL",
    ),
    Option(
        "cert_report",
        "--cert-report",
        "write the certificate (in-toto statement in a DSSE envelope, JSON) to this path",
        "PATH",
    ),
    Option("cert_html", "--cert-html", "write the certificate as one self-contained HTML page", "PATH"),
    Option("cert_md", "--cert-md", "write the certificate as Markdown (for CI comments)", "PATH"),
    Option(
        "signing_key",
        "--signing-key",
        "Ed25519 private key (PEM file, or the PEM text in the env var) to "
        "sign the certificate with; without one it is marked unsigned",
        "PATH",
    ),
    Option(
        "call_timeout", "--connector-timeout", "seconds one connector call may take (default: 60)", "SECONDS"
    ),
    Option(
        "check_workers",
        "--check-workers",
        "checks run at once, each on its own tenants (default: one per core, at least 2, at most 4; "
        "1 runs them one after another). Pace-sensitive checks (performance) always run alone, last",
        "N",
    ),
)


@dataclass(frozen=True)
class HarnessConfig:
    connector: str | None
    contract_file: Path | None  # None: the bundled reference contract
    contract_given: bool
    sandbox: str
    seed: int
    seed_given: bool
    checks: tuple[str, ...]
    cert_level: str
    cert_report: Path | None
    cert_html: Path | None
    cert_md: Path | None
    signing_key: str | None
    call_timeout: float
    rootdir: Path
    check_workers: int = 1

    @property
    def active(self) -> bool:
        return self.connector is not None

    @property
    def contract(self) -> Path:
        """The contract file; finding the bundled one imports the contract layer, so only on demand."""
        if self.contract_file is not None:
            return self.contract_file
        from harness.contract import default_contract_path

        return default_contract_path()


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "connector certification (connector-harness)")
    for option in OPTIONS:
        group.addoption(
            option.flag,
            dest=f"harness_{option.name}",
            metavar=option.metavar,
            help=f"{option.help} [env {option.env}, ini {option.ini}]",
        )
        parser.addini(option.ini, option.help)


def raw_value(config: pytest.Config, option: Option) -> str | None:
    value = config.getoption(f"harness_{option.name}")
    if value is None:
        value = config.getini(option.ini) or None
    if value is None:
        value = os.environ.get(option.env) or None
    return value


def resolve(config: pytest.Config) -> HarnessConfig:
    raw = {o.name: raw_value(config, o) for o in OPTIONS}
    rootdir = Path(config.rootpath)
    sandbox = raw["sandbox"] or "embedded"
    if sandbox.startswith("url:"):
        if not sandbox[4:].startswith(("http://", "https://")):
            raise pytest.UsageError(
                f"--sandbox={sandbox}: give the sandbox's address, e.g. url:http://127.0.0.1:8765"
            )
    elif sandbox not in SANDBOXES:
        raise pytest.UsageError(
            _choice_error("--sandbox", sandbox, ("embedded", "container", "url:http://..."))
        )
    level = raw["cert_level"] or "standard"
    if level not in LEVELS:
        raise pytest.UsageError(_choice_error("--cert-level", level, LEVELS))
    seed_text = raw["seed"]
    seed_given = seed_text is not None
    try:
        seed = int(seed_text) if seed_text is not None else random.SystemRandom().randrange(2**31)
    except ValueError:
        raise pytest.UsageError(f"--seed must be a whole number, got {raw['seed']!r}") from None
    timeout = _timeout(raw["call_timeout"])
    contract = Path(raw["contract"]) if raw["contract"] else None
    if contract is not None and not contract.is_absolute():
        contract = rootdir / contract
    report, html, md = (Path(v) if (v := raw[k]) else None for k in ("cert_report", "cert_html", "cert_md"))
    checks = tuple(c.strip() for c in (raw["checks"] or "").split(",") if c.strip())
    return HarnessConfig(
        connector=raw["connector"],
        contract_file=contract,
        contract_given=raw["contract"] is not None,
        sandbox=sandbox,
        seed=seed,
        seed_given=seed_given,
        checks=checks,
        cert_level=level,
        cert_report=report,
        cert_html=html,
        cert_md=md,
        signing_key=raw["signing_key"],
        call_timeout=timeout,
        rootdir=rootdir,
        check_workers=_workers(raw["check_workers"]),
    )


def _timeout(raw: str | None) -> float:
    """Seconds one connector call may take: a positive, finite number."""
    if raw is None:
        return 60.0
    try:
        timeout = float(raw)
    except ValueError:
        timeout = math.nan
    if not math.isfinite(timeout) or timeout <= 0:
        raise pytest.UsageError(
            f"--connector-timeout must be a positive number of seconds (e.g. 60), got {raw!r}"
        )
    return timeout


def default_workers() -> int:
    """Checks mostly wait on the connector and the sandbox, so two run well even on one core; more
    than four only queue behind each other on a small machine."""
    return max(2, min(4, os.cpu_count() or 1))


def _workers(raw: str | None) -> int:
    """How many checks run at once: a whole number from 1."""
    if raw is None:
        return default_workers()
    try:
        workers = int(raw)
    except ValueError:
        workers = 0
    if workers < 1:
        raise pytest.UsageError(
            f"--check-workers must be a whole number from 1 (1 runs the checks one at a time), got {raw!r}"
        )
    return workers


def check_names(names: tuple[str, ...], ids: list[str], pillars: list[str]) -> None:
    """Unknown --checks names are a usage error, with the closest id or pillar suggested."""
    known = [*ids, *pillars]
    for name in names:
        if name not in known:
            raise pytest.UsageError(_choice_error("--checks", name, known))


def _choice_error(flag: str, value: str, allowed: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(value, list(allowed), n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"{flag}: {value!r} is not one of {', '.join(allowed)}.{hint}"
