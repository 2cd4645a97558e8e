"""Published vendor specs for tests, fetched through bench/corpus.py (`npm pack`, cached).

Without npm a local run skips these tests with the reason; under CI=true a spec that cannot be
fetched fails the test, since CI installs everything its tests need.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

CORPUS = Path(__file__).resolve().parents[1] / "bench" / "corpus.py"


@cache
def corpus() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fidelity_corpus", CORPUS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def published(name: str) -> Path:
    """The local path of corpus spec `name` (`stripe`, `github`, ...), fetched if needed."""
    try:
        return corpus().fetch_named(name)
    except (RuntimeError, OSError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"cannot fetch the published spec {name!r}: {exc}")
        pytest.skip(f"published spec {name!r} not available: {exc}")
