"""Setup problems found before any check runs, so each is one usage error instead of one failure per check.

Finding a Python connector's module runs none of its code: the module is located with
`importlib.machinery.PathFinder` (which imports no parent package) and its source is only
compiled, never executed. The connector's own code runs later, where its driver runs it.
"""

from __future__ import annotations

import importlib.machinery
import sys
from pathlib import Path

from harness.checks.fronts import unserved_reason
from harness.connectors.manifest import Manifest
from harness.contract import Contract
from harness.contract.hints import hint_problems, malformed_hints
from harness.contract.offers import gap
from harness.core.errors import HarnessError


class SetupError(HarnessError, ValueError):
    """A setup problem, with what to change; the plugin turns it into a usage error."""


def check_contract(contract: Contract) -> None:
    """A contract the sandbox cannot serve collections from is one SetupError, before any check runs:
    `x-sandbox` hints that cannot be read or name nothing, or no collection at all."""
    problems = malformed_hints(contract) or hint_problems(contract)
    if problems:
        lines = "\n".join(p.render(contract.file) for p in problems)
        raise SetupError(
            f"{len(problems)} unusable `x-sandbox` hint(s) in the contract:\n{lines}\n"
            f"(`harness contract lint {contract.file}` lists every gap)"
        )
    missing = gap(contract, "collections")
    if missing is not None:
        raise SetupError(
            f"{contract.file}: {missing.reason}; no check has anything to sync. To offer one: {missing.hint} "
            f"(`harness contract lint {contract.file}` lists every gap)"
        )


def check_streams(manifest: Manifest, contract: Contract) -> None:
    """A manifest that syncs no stream gives no check anything to judge: one SetupError naming the fix."""
    if manifest.streams:
        return
    names = ", ".join(f'"{n}"' for n in list(contract.collections)[:3])
    raise SetupError(
        f"{manifest.file}: [connector] streams is empty, so there is nothing to sync and judge. "
        f"Name the collections the connector syncs, e.g. streams = [{names}] "
        f"(the contract has {', '.join(contract.collections)})"
    )


def check_runtime(manifest: Manifest, contract: Contract, runtime: str) -> None:
    """A connector whose operations take a TLS client certificate (mutualTLS) on a runtime that
    cannot serve the certificate front: one SetupError naming the runtime to use."""
    reason = unserved_reason(contract, manifest, runtime)
    if reason is not None:
        raise SetupError(reason)


def check_connector(manifest: Manifest) -> None:
    """A `python = "module:Class"` connector whose module cannot be found or compiled is a SetupError."""
    if not manifest.python:
        return
    module, _, _attr = manifest.python.partition(":")
    folders = [str(manifest.root), *(str(manifest.root / p) for p in manifest.python_path), *sys.path]
    origin = find_module(module, folders)
    if origin is None:
        raise SetupError(
            f"{manifest.file}: cannot import {module!r}: no such module in {manifest.root} "
            f"or on the Python path. Install the connector's package (pip install -e PATH), run pytest "
            f"from the folder that holds {module.split('.')[0]!r}, or add its folder to `python_path` "
            f"in connector.toml."
        )
    if origin.suffix == ".py":
        try:
            compile(origin.read_bytes(), str(origin), "exec")
        except SyntaxError as exc:
            raise SetupError(
                f"{manifest.file}: cannot import {module!r}: {exc.msg} ({origin}, line {exc.lineno})"
            ) from None


def find_module(name: str, folders: list[str]) -> Path | None:
    """The file of module `name` (dotted) found in `folders`, without importing anything."""
    locations: list[str] | None = folders
    spec = None
    for part in name.split("."):
        if locations is None:
            return None  # a parent that is a plain module has no submodules
        spec = importlib.machinery.PathFinder.find_spec(part, locations)
        if spec is None:
            return None
        locations = list(spec.submodule_search_locations or []) or None
    if spec is None:
        return None
    if spec.origin in (None, "namespace"):
        return Path(next(iter(spec.submodule_search_locations or [""]), ""))
    return Path(spec.origin)
