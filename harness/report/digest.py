"""Digests that pin down what was certified: the connector's code and the contract."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

SKIP_DIRS = {"__pycache__", ".git", ".venv", "node_modules", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo"}


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_sha256(root: Path) -> str:
    """One digest for a folder: each file's relative path and content, in a stable order."""
    outer = hashlib.sha256()
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not (set(p.relative_to(root).parts) & SKIP_DIRS) and p.suffix not in SKIP_SUFFIXES
    )
    for path in files:
        outer.update(path.relative_to(root).as_posix().encode() + b"\0" + file_sha256(path).encode() + b"\n")
    return outer.hexdigest()


def connector_sha256(manifest_file: str, root: Path, python: str | None) -> str:
    """The manifest's folder, or for a connector given as module:Class, its module or package."""
    if Path(manifest_file).is_file():
        return tree_sha256(root)
    module = (python or manifest_file).partition(":")[0]
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return hashlib.sha256(module.encode()).hexdigest()
    origin = Path(spec.origin)
    return tree_sha256(origin.parent) if origin.name == "__init__.py" else file_sha256(origin)
