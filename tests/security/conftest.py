"""What the attacks share: connectors built from a few lines of hostile code, the gate run as
the real `harness certify` command, and a check result as a certificate records one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.connectors import CommandConnector, PythonConnector, Replica
from harness.connectors.manifest import Manifest
from tests.conftest import ROOT

UNREACHABLE = {"base_url": "http://127.0.0.1:9"}  # the config of a connector that calls nothing


def evil(
    sync: str = "pass", *, head: str = "", init: str = "self.sink = sink", check: str | None = None
) -> str:
    """The source of a Python connector `evil:Evil`: `head` at module level, `init` in its
    `__init__(config, sink)`, and the bodies of `sync(state)` and (when given) `check()`."""

    def body(code: str) -> str:
        return textwrap.indent(textwrap.dedent(code).strip("\n"), " " * 8)

    methods = [("__init__(self, config, sink)", init)]
    if check is not None:
        methods.append(("check(self)", check))
    methods.append(("sync(self, state)", sync))
    lines = [textwrap.dedent(head).strip("\n"), "", "class Evil:"]
    for signature, code in methods:
        lines += [f"    def {signature}:", body(code), ""]
    return "\n".join(lines)


def line_of(source: str, text: str) -> int:
    """The 1-based line of `source` that holds `text` (for asserting tracebacks)."""
    return next(n for n, line in enumerate(source.splitlines(), 1) if text in line)


def manifest(folder: Path, **kind: Any) -> Manifest:
    return Manifest(
        file=str(folder / "connector.toml"),
        root=folder,
        name="evil",
        version="1",
        scopes=(),
        streams=("contacts",),
        **kind,
    )


class Connectors:
    """Builds connectors in one folder and closes every one of them when the test ends."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.made: list[PythonConnector | CommandConnector] = []

    def python(self, code: str, timeout: float = 20) -> PythonConnector:
        (self.folder / "evil.py").write_text(textwrap.dedent(code))
        return self._keep(
            PythonConnector(manifest(self.folder, python="evil:Evil"), UNREACHABLE, Replica(), timeout)
        )

    def command(self, code: str, timeout: float = 20) -> CommandConnector:
        (self.folder / "evil.py").write_text("import json, os, sys, time\n" + textwrap.dedent(code))
        described = manifest(self.folder, command=("python3", "evil.py"))
        return self._keep(CommandConnector(described, UNREACHABLE, Replica(), timeout))

    def of(self, kind: str, python: str, command: str) -> PythonConnector | CommandConnector:
        """The same attack as either kind of connector."""
        return self.python(python) if kind == "python" else self.command(command)

    def _keep(self, connector: Any) -> Any:
        self.made.append(connector)
        return connector

    def close(self) -> None:
        for connector in self.made:
            connector.close()


@pytest.fixture
def connectors(tmp_path: Path) -> Iterator[Connectors]:
    made = Connectors(tmp_path)
    try:
        yield made
    finally:
        made.close()


def gone(pid: int) -> bool:
    """The process has ended (absent, or a zombie its parent has not reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


# -- the gate, run for real -------------------------------------------------------------------

EXAMPLE = ROOT / "examples" / "acme_sync"
MANIFEST = """
[connector]
name = "{name}"
version = "1.0.0"
python = "{module}:Connector"
python_path = ["{example}"]
scopes = {scopes}
streams = {streams}
[connector.config]
page_size = 100
spy_out = "{spy}"
"""


def acme_connector(tmp_path: Path, name: str, code: str, *, scopes=None, streams=None) -> Path:
    """A connector repository `tmp_path/name` whose module (the example's AcmeSync, changed by
    `code`) writes what it spies to `tmp_path/spy.json`."""
    folder = tmp_path / name
    folder.mkdir()
    module = name.replace("-", "_")
    (folder / f"{module}.py").write_text(code)
    (folder / "connector.toml").write_text(
        MANIFEST.format(
            name=name,
            module=module,
            example=EXAMPLE,
            spy=tmp_path / "spy.json",
            scopes=json.dumps(scopes or ["contacts:read", "companies:read", "deals:read", "events:read"]),
            streams=json.dumps(streams or ["contacts", "companies", "deals"]),
        )
    )
    return folder


def certify(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`harness certify ARGS` in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "certify", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def certify_basic(repo: Path, check: str, *more: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The gate at level basic for one check, its certificate in `cwd/cert.json`."""
    return certify(str(repo), "--level=basic", f"--checks={check}", "--report=cert.json", *more, cwd=cwd)


# -- certificates -------------------------------------------------------------------------------


def check_result(**over: Any) -> dict[str, Any]:
    """One check's entry as a certificate's predicate holds it: AUTH-01, passed, unless `over`."""
    return {
        "id": "AUTH-01",
        "pillar": "auth",
        "severity": "critical",
        "title": "t",
        "required": True,
        "status": "passed",
        "waived": None,
        "duration": 0.1,
        "message": "",
        "expected": "",
        "evidence": {},
        **over,
    }
