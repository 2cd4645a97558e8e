"""Digests that pin down what was certified: every file that can run as the connector, and the contract.

The subject digest covers all code the connector can execute, not only its sources: the
manifest's folder with compiled (`.pyc`, also sourceless ones) and vendored files
(`node_modules`, `.venv`), every `python_path` folder, and a command's executable resolved to
an absolute path (`PATH` included). It is taken before the first connector call and again at
the end, so a certificate never names code other than what ran under certification.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.connectors import Manifest

SKIP_DIRS = {".git", ".pytest_cache"}  # version control and pytest's cache never run; all else may


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_sha256(root: Path, exclude: frozenset[str] = frozenset()) -> str:
    """One digest for a folder: each entry's relative path and content (a symlink: its target),
    in a stable order; nothing skipped but `.git`, `.pytest_cache` and the relative paths in
    `exclude` (the run's own reports, recorded in the certificate)."""
    outer = hashlib.sha256()
    for rel, kind, value in _entries(root):
        if rel in exclude:
            continue
        outer.update(f"{rel}\0{kind}\0{value}\n".encode())
    return outer.hexdigest()


def _entries(root: Path) -> list[tuple[str, str, str]]:
    if root.is_file():
        return [(root.name, "file", file_sha256(root))]
    out = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        here = Path(folder)
        for name in [*files, *(d for d in dirs if (here / d).is_symlink())]:
            path = here / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                target = os.readlink(path)
                content = file_sha256(path) if path.is_file() else ""
                out.append((rel, "link", f"{target}\0{content}"))
            elif path.is_file():
                out.append((rel, "file", file_sha256(path)))
    return sorted(out)


def code_inputs(manifest: Manifest) -> list[tuple[str, Path]]:
    """What can run as this connector, as (label, path) pairs in a stable order."""
    inputs: list[tuple[str, Path]] = []
    if Path(manifest.file).is_file():
        inputs.append(("manifest folder", manifest.root))
    elif manifest.python:
        # the top-level package: finding it imports nothing, and it holds every submodule
        module = manifest.python.partition(":")[0].split(".")[0]
        origin = _module_origin(module, manifest.root)
        inputs.append((f"module {module}", origin.parent if origin.name == "__init__.py" else origin))
    for folder in manifest.python_path:
        inputs.append((f"python_path {folder}", (manifest.root / folder).resolve()))
    if manifest.command:
        executable = _executable(manifest)
        if executable is not None:
            inputs.append(("command executable", executable))
    return inputs


def _module_origin(module: str, root: Path) -> Path:
    added = str(root) not in sys.path
    if added:
        sys.path.insert(0, str(root))
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    finally:
        if added:
            sys.path.remove(str(root))
    if spec is None or spec.origin is None:
        return root / (module.replace(".", "/") + ".py")  # digested as missing: the run will fail
    return Path(spec.origin)


def _executable(manifest: Manifest) -> Path | None:
    """The command's first word as the file that runs: `python` is the harness's interpreter,
    `./x` is relative to the manifest, a bare name is looked up on PATH."""
    assert manifest.command
    first = manifest.command[0]
    if first in ("python", "python3"):
        return Path(sys.executable).resolve()
    if first.startswith(("./", "../")):
        return (manifest.root / first).resolve()
    found = shutil.which(first) if os.sep not in first else first
    return Path(found).resolve() if found else None


def code_digest(
    manifest: Manifest,
    outputs: list[Path] | tuple[Path, ...] = (),
    excluded: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """`{"sha256": ..., "inputs": [{"label", "path", "sha256", "excluded"}]}` over everything that
    can run. `outputs` (the run's own report files) are left out of any folder they fall in;
    `excluded` (label -> relative paths, as a certificate records them) does the same later."""
    parts = []
    for label, path in code_inputs(manifest):
        skip = set((excluded or {}).get(label, []))
        for output in outputs:
            with contextlib.suppress(ValueError):
                skip.add(output.resolve().relative_to(path.resolve()).as_posix())
        if path.is_dir():
            digest = tree_sha256(path, frozenset(skip))
        elif path.exists():
            digest = tree_sha256(path)
        else:
            digest = hashlib.sha256(b"missing").hexdigest()
        part: dict[str, Any] = {"label": label, "path": str(path), "sha256": digest}
        if skip and path.is_dir():
            part["excluded"] = sorted(skip)
        parts.append(part)
    outer = hashlib.sha256()
    for part in parts:
        outer.update(f"{part['label']}\0{part['sha256']}\n".encode())
    return {"sha256": outer.hexdigest(), "inputs": parts}


def connector_sha256(manifest: Manifest) -> str:
    return str(code_digest(manifest)["sha256"])


def changed_inputs(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The labels of inputs whose digest differs between two `code_digest` results."""
    old = {p["label"]: p["sha256"] for p in before["inputs"]}
    new = {p["label"]: p["sha256"] for p in after["inputs"]}
    return sorted(label for label in old.keys() | new.keys() if old.get(label) != new.get(label))
