"""Compiled JSON Schema validators for parts of a contract, built once and cached per contract.

Validation runs on every request and response the sandbox handles, so the yes/no question is
asked of jsonschema-rs (two orders of magnitude faster); only when the answer is no does the
Python `jsonschema` walk the value to explain every error with its pointer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

if TYPE_CHECKING:
    from harness.contract.model import Contract

FORMATS = FormatChecker()


class Validator:
    def __init__(self, explain: Draft202012Validator, fast: Any | None) -> None:
        self.explain = explain
        self.fast = fast

    def is_valid(self, value: Any) -> bool:
        if self.fast is not None and self.fast.is_valid(value):
            return True
        return self.explain.is_valid(value)

    def iter_errors(self, value: Any) -> Iterator[ValidationError]:
        if self.fast is not None and self.fast.is_valid(value):
            return iter(())
        return self.explain.iter_errors(value)


def validator_for(contract: Contract, schema_uri: str) -> Validator:
    cache: dict[str, Validator] = contract.__dict__.setdefault("_validators", {})
    validator = cache.get(schema_uri)
    if validator is None:
        explain = Draft202012Validator(
            {"$ref": schema_uri}, registry=contract.registry, format_checker=FORMATS
        )
        validator = Validator(explain, _fast(contract, schema_uri))
        cache[schema_uri] = validator
    return validator


def _uri_ref(schema_uri: str) -> str:
    """The URI with its JSON pointer percent-encoded (RFC 6901 section 6): jsonschema-rs refuses a
    raw `{` in a fragment, which every schema under a templated path (`/things/{id}`) has."""
    base, hash_sign, fragment = schema_uri.partition("#")
    return base + hash_sign + quote(fragment, safe="/~!$&'()*+,;=:@")


def _fast(contract: Contract, schema_uri: str) -> Any | None:
    """A jsonschema-rs validator, or None where it cannot be built (e.g. refs into other files)."""
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    registry = contract.__dict__.get("_rs_registry")
    try:
        if registry is None:
            registry = jsonschema_rs.Registry([(contract.uri, contract.document)])
            contract.__dict__["_rs_registry"] = registry
        ref = {"$ref": _uri_ref(schema_uri)}
        return jsonschema_rs.validator_for(ref, registry=registry, validate_formats=True)
    except Exception:  # jsonschema-rs refuses what it cannot resolve; the slow path still works
        return None


def schema_type(schema: dict[str, Any]) -> set[str]:
    """The JSON types a (resolved) schema allows, for coercing query strings."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return set(kind)
    return set()


# Python-only regex syntax and its ECMA-262 spelling; an escaped backslash (`\\A`) is left alone.
_PYTHON_SYNTAX = re.compile(r"(?<!\\)((?:\\\\)*)(\\A|\\Z|\\z|\(\?P<|\(\?P=(\w+)\))")


def ecma_pattern(pattern: str) -> str:
    """A `pattern` in Python's regex dialect rewritten in ECMA-262 (JSON Schema's dialect).

    Real specs (Linode's, written for Python servers) anchor with `\\A...\\Z` and name groups
    `(?P<name>...)`; ECMA engines, jsonschema-rs among them, refuse both. The meaning is kept:
    `\\A` is `^`, `\\Z` is `$` (no multiline flag, so `$` is the end), `(?P<n>` is `(?<n>`.
    """

    def swap(m: re.Match[str]) -> str:
        token = m.group(2)
        if token == r"\A":
            return m.group(1) + "^"
        if token in (r"\Z", r"\z"):
            return m.group(1) + "$"
        if token == "(?P<":
            return m.group(1) + "(?<"
        return m.group(1) + rf"\k<{m.group(3)}>"

    return _PYTHON_SYNTAX.sub(swap, pattern)
