"""The architecture rule, enforced: layers import one way only (see README, Architecture)."""

from __future__ import annotations

import ast
import importlib
from inspect import isclass
from pathlib import Path

from tests.conftest import ROOT

LAYERS = ["core", "contract", "synth", "sandbox", "runtime", "connectors", "checks", "report", "fuzz"]
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


# Exception classes in files this branch may not edit (harness/checks/ and runtime/handle.py are
# being rewritten, sandbox/app.py is another change's): the lead folds them into HarnessError on
# merging. Each entry must still exist and still not be a HarnessError, so the list cannot go stale.
NOT_YET_HARNESS_ERRORS: set[str] = set()


def exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined at the top level of a module under harness/."""
    found: dict[str, type[BaseException]] = {}
    for path in sorted((ROOT / "harness").rglob("*.py")):
        module = importlib.import_module(
            ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        )
        for name, value in vars(module).items():
            if isclass(value) and issubclass(value, BaseException) and value.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = value
    return found


def test_every_exception_the_harness_defines_is_a_harness_error():
    from harness.core.errors import HarnessError

    classes = exception_classes()
    assert len(classes) > 20  # the walk found the package's errors
    assert set(classes) >= NOT_YET_HARNESS_ERRORS, "a listed class is gone: drop it from the list"
    outside = sorted(name for name, cls in classes.items() if not issubclass(cls, HarnessError))
    assert outside == sorted(NOT_YET_HARNESS_ERRORS)


def test_harness_errors_keep_the_stdlib_base_their_callers_catch():
    from harness.connectors import ConnectorTimeout, ManifestError, SinkError
    from harness.synth import SynthError

    assert issubclass(ManifestError, ValueError) and issubclass(SynthError, ValueError)
    assert issubclass(ConnectorTimeout, RuntimeError) and issubclass(SinkError, TypeError)
