"""`harness certify PATH` and `harness replay`: the gate run, which the connector's repository
cannot configure, and signing, which no connector-controlled code shares.

The certification runs as a pytest subprocess with the gate's own options only: an empty ini
file in a temporary folder (so no `pytest.ini`, `tox.ini`, `setup.cfg` or `pyproject` section of
the connector's tree applies), that folder as rootdir and working directory, `--noconftest`, no
`addopts`, no plugin autoloading (the harness plugin is named explicitly), `python -I` (no
`PYTHON*` variables, no user site) and an environment without `HARNESS_*` or `PYTEST_*`. That
run writes an unsigned statement. Only after it ended, and after every process it left behind
was killed (this process is their subreaper), does this process read the key and sign.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXIT_CERTIFIED = 0
EXIT_NOT_CERTIFIED = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
EXIT_NO_CERTIFICATE = 4
VERDICT_EXIT = {
    "certified": EXIT_CERTIFIED,
    "not certified": EXIT_NOT_CERTIFIED,
    "incomplete": EXIT_INCOMPLETE,
}
PR_SET_CHILD_SUBREAPER = 36
KEPT_ENV = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "CI",
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "DOCKER_HOST",
    "DOCKER_CERT_PATH",
    "DOCKER_TLS_VERIFY",
)


@dataclass
class GateRun:
    """The options of one gate run: what the certificate records as its effective options."""

    connector: Path
    contract: Path | None = None
    level: str = "standard"
    sandbox: str = "embedded"
    seed: int | None = None
    checks: str | None = None
    call_timeout: float | None = None
    junitxml: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    def harness_options(self, statement: Path) -> list[str]:
        options = [f"--connector={self.connector}", f"--cert-level={self.level}", f"--sandbox={self.sandbox}"]
        if self.contract is not None:
            options.append(f"--contract={self.contract}")
        if self.seed is not None:
            options.append(f"--seed={self.seed}")
        if self.checks:
            options.append(f"--checks={self.checks}")
        if self.call_timeout is not None:
            options.append(f"--connector-timeout={self.call_timeout:g}")
        if self.junitxml is not None:
            options.append(f"--junitxml={self.junitxml}")
        return [*options, f"--cert-report={statement}"]


def gate_argv(ini: Path, folder: Path, options: list[str]) -> list[str]:
    """pytest with nothing from anybody's tree: the gate's ini, rootdir, and options only."""
    return [
        sys.executable,
        "-I",  # no PYTHON* variables, no user site, the working directory not on sys.path
        "-B",  # write no bytecode into the connector's tree (it is part of the subject digest)
        "-m",
        "pytest",
        "-c",
        str(ini),
        f"--rootdir={folder}",
        "--noconftest",
        "-o",
        "addopts=",
        "-p",
        "no:cacheprovider",
        "-p",
        "harness.plugin",
        "-q",
        *options,
    ]


def gate_env(extra: dict[str, str]) -> dict[str, str]:
    """An allow-listed environment: no HARNESS_* (the signing key), PYTEST_* or CI tokens."""
    env = {k: v for k, v in os.environ.items() if k in KEPT_ENV}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # a plugin installed by the connector never loads
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def judge_env(sandbox: str) -> dict[str, str]:
    """A shared sandbox's admin token, for the judging pytest process only (the connector's
    own process gets an allow-listed environment from its driver)."""
    token = os.environ.get("HARNESS_ADMIN_TOKEN")
    return {"HARNESS_ADMIN_TOKEN": token} if sandbox.startswith("url:") and token else {}


def run_gate(run: GateRun, folder: Path) -> tuple[int, Path, list[str]]:
    """Run the certification in `folder`; its exit status, the statement path, and its argv."""
    ini = folder / "gate.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")
    statement = folder / "statement.json"
    argv = gate_argv(ini, folder, run.harness_options(statement))
    _become_subreaper()
    proc = subprocess.Popen(argv, cwd=folder, env=gate_env(run.extra_env), start_new_session=True)
    try:
        status = proc.wait()
    except BaseException:
        _kill_group(proc.pid)
        proc.wait()
        raise
    finally:
        _kill_group(proc.pid)
        reap_descendants()
    return status, statement, argv[1:]


def _become_subreaper() -> None:
    """Orphans of the run (a `setsid` grandchild included) become our children, so we can end them."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def descendants() -> list[int]:
    """Every live process below this one (from /proc; empty where there is no /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found, frontier = [], [os.getpid()]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def reap_descendants(rounds: int = 50) -> None:
    """Kill and wait for every process the run left behind, until none is left."""
    for _ in range(rounds):
        pids = descendants()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        if not pids:
            return
        time.sleep(0.02)


def certify_command(
    run: GateRun,
    *,
    report: Path,
    html: Path | None,
    md: Path | None,
    signing_key: str | None,
) -> int:
    """Run the gate; exit 0 only when certified (1 not certified, 3 incomplete, 4 no certificate)."""
    from harness.report import (
        SigningError,
        envelope,
        read_certificate,
        render_html,
        render_markdown,
        write_json,
    )

    folder = run.connector if run.connector.is_dir() else run.connector.parent
    for path in (report, html, md, run.junitxml):
        if path is not None and path.resolve().is_relative_to(folder.resolve()):
            print(
                f"harness certify: {path} is inside the connector's folder {folder}, whose every file is "
                "part of the code digest; write the reports outside it (e.g. --report ../cert.json)",
                file=sys.stderr,
            )
            return EXIT_USAGE
    for path in (report, html, md, run.junitxml):
        if path is not None:
            path.unlink(missing_ok=True)  # a run that writes nothing leaves nothing stale
    if signing_key is not None and "-----BEGIN" not in signing_key and not Path(signing_key).is_file():
        print(f"harness certify: the signing key {signing_key} is not a file", file=sys.stderr)
        return EXIT_USAGE
    run.extra_env.update(judge_env(run.sandbox))
    with tempfile.TemporaryDirectory(prefix="harness-gate-") as tmp:
        status, statement_path, argv = run_gate(run, Path(tmp))
        if not statement_path.is_file():
            print(
                f"harness certify: the run ended (pytest exit {status}) without writing a certificate; "
                "nothing was certified",
                file=sys.stderr,
            )
            return EXIT_NO_CERTIFICATE
        try:
            env, doc = read_certificate(statement_path)
        except SigningError as exc:
            print(f"harness certify: the run's statement is unusable: {exc}", file=sys.stderr)
            return EXIT_NO_CERTIFICATE
    if env["signatures"]:
        print(
            "harness certify: the run's statement came signed; the gate signs only its own", file=sys.stderr
        )
        return EXIT_NO_CERTIFICATE
    predicate = doc["predicate"]
    predicate["gate"] = gate_record(argv, status)
    key = None
    if signing_key is not None:  # read only now: every process of the run has ended
        from harness.report import load_private

        try:
            key = load_private(signing_key)
        except SigningError as exc:
            print(f"harness certify: {exc}", file=sys.stderr)
            return EXIT_USAGE
    write_json(report, envelope(doc, key))
    for path, render in ((html, render_html), (md, render_markdown)):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(predicate, key is not None), encoding="utf-8")
    verdict = predicate["verdict"]
    print(f"harness certify: {verdict}; certificate {'signed' if key else 'unsigned'}: {report}")
    if status not in (0, 1) and verdict == "certified":
        print(f"harness certify: pytest exited {status}; the run is not trusted", file=sys.stderr)
        return EXIT_NO_CERTIFICATE
    return VERDICT_EXIT[verdict]


def gate_record(argv: list[str], status: int) -> dict[str, Any]:
    """What the certificate says about how it was made: by `harness certify`, with these options."""
    return {
        "command": "harness certify",
        "pytest": argv,
        "pytest_exit": status,
        "conftest": False,
        "ini": "empty",
    }


def replay_command(
    path: str,
    public_key: str | None,
    connector: str | None,
    contract: str | None,
    check: str | None,
    extra: list[str],
) -> int:
    """Re-run a certification with the recorded seed, level and runtime, on code the caller names.

    The signature is checked first; the connector is the one given with `--connector` (never a
    path only the certificate names), and it must be the code the certificate is about."""
    from harness.report.commands import EXIT_INVALID, EXIT_MISMATCH, gate_checks, load_verified

    if public_key is None or connector is None:
        print(
            "harness replay: give --public-key (to check the certificate) and --connector PATH",
            file=sys.stderr,
        )
        return EXIT_USAGE
    loaded = load_verified(path, public_key, allow_unsigned=False, prog="harness replay")
    if loaded is None:
        return EXIT_INVALID
    predicate = loaded["predicate"]
    known = {c["id"] for c in predicate["checks"]} | set(predicate["not_run"])
    if check is not None and check not in known:
        print(
            f"harness replay: {check} is not a check of this certificate ({', '.join(sorted(known))})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    problems = gate_checks(loaded, connector=connector, contract=contract)
    if problems:
        for problem in problems:
            print(f"harness replay: {problem}", file=sys.stderr)
        return EXIT_MISMATCH
    run = GateRun(
        connector=Path(connector).resolve(),
        contract=Path(contract).resolve() if contract else None,
        level=predicate["cert_level"],
        sandbox=predicate["sandbox"],
        seed=predicate["seed"],
        checks=check,
    )
    with tempfile.TemporaryDirectory(prefix="harness-replay-") as tmp:
        print("replaying: " + " ".join(run.harness_options(Path(tmp) / "statement.json")[:-1]), flush=True)
        ini = Path(tmp) / "gate.ini"
        ini.write_text("[pytest]\n", encoding="utf-8")
        argv = gate_argv(ini, Path(tmp), [*run.harness_options(Path(tmp) / "statement.json"), *extra])
        return subprocess.call(argv, cwd=tmp, env=gate_env(judge_env(run.sandbox)))
