"""Defer the one expensive import of format checking until a value needs it.

`jsonschema` imports `rfc3987_syntax` when it is installed (the `format-nongpl` extra) and that
module compiles an RFC 3987 grammar at import: about a CPU second, paid by every process that
imports the contract layer even if it never checks an `iri`. A stand-in module that imports the
real one on its first call keeps the checker (jsonschema still registers `iri` and
`iri-reference`) and moves the cost to the first IRI actually checked.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

_NAME = "rfc3987_syntax"


def defer_iri_grammar() -> None:
    """Install the stand-in unless the real module is loaded already or not installed."""
    if _NAME in sys.modules or importlib.util.find_spec(_NAME) is None:
        return
    stand_in = types.ModuleType(_NAME, "stand-in that imports rfc3987_syntax on first use")

    def is_valid_syntax(*args: Any, **kwargs: Any) -> bool:
        if sys.modules.get(_NAME) is stand_in:
            del sys.modules[_NAME]
        real = importlib.import_module(_NAME)
        stand_in.is_valid_syntax = real.is_valid_syntax  # type: ignore[attr-defined]
        return real.is_valid_syntax(*args, **kwargs)

    stand_in.is_valid_syntax = is_valid_syntax  # type: ignore[attr-defined]
    sys.modules[_NAME] = stand_in
