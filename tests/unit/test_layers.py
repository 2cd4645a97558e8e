"""The architecture rule, enforced: layers import one way only (see README, Architecture)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

LAYERS = ["core", "contract", "synth", "sandbox", "runtime", "connectors", "checks", "report"]
TOP = len(LAYERS)  # plugin, items, session, config, cli, lint sit on top of everything


def layer_of(module: str) -> int:
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "harness":
        raise ValueError(module)
    return LAYERS.index(parts[1]) if parts[1] in LAYERS else TOP


def harness_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("harness.")
            and not node.level
        ):
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(a.name for a in node.names if a.name.startswith("harness."))
    return found


def test_no_module_imports_from_a_later_layer():
    offences = []
    for path in sorted((ROOT / "harness").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        if module == "harness":
            continue
        own = layer_of(module)
        for imported in harness_imports(path):
            if layer_of(imported) > own:
                offences.append(f"{module} (layer {own}) imports {imported} (layer {layer_of(imported)})")
    assert offences == []


# Checks judge evidence; they do not reach into how it is made. So below them they see only the
# evidence types, the contract, the sandbox handle and the Driver protocol.
CHECKS_MAY_IMPORT = (
    "harness.core",
    "harness.contract",
    "harness.runtime",
    "harness.connectors",
    "harness.checks",
)
RUNTIME_PUBLIC = {"harness.runtime", "harness.runtime.handle"}


def test_checks_import_only_evidence_contract_handle_and_connectors():
    offences = []
    for path in sorted((ROOT / "harness" / "checks").rglob("*.py")):
        for imported in harness_imports(path):
            allowed = imported.startswith(tuple(f"{m}." for m in CHECKS_MAY_IMPORT)) or imported in (
                *CHECKS_MAY_IMPORT,
            )
            if imported.startswith("harness.runtime") and imported not in RUNTIME_PUBLIC:
                allowed = False
            if not allowed:
                offences.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert offences == []


def test_the_evidence_layer_imports_nothing_else_from_the_package():
    offences = [
        f"{path.relative_to(ROOT)} imports {imported}"
        for path in sorted((ROOT / "harness" / "core").rglob("*.py"))
        for imported in harness_imports(path)
        if not imported.startswith("harness.core")
    ]
    assert offences == []


def test_the_pytest_entry_module_imports_nothing_heavy_at_import_time():
    tree = ast.parse((ROOT / "harness" / "plugin.py").read_text())
    top_level = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    names = {n.module if isinstance(n, ast.ImportFrom) else n.names[0].name for n in top_level}
    assert names <= {"__future__", "json", "typing", "pytest"}
