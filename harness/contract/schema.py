"""Compiled JSON Schema validators for parts of a contract, built once and cached per contract."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator, FormatChecker

if TYPE_CHECKING:
    from harness.contract.model import Contract

FORMATS = FormatChecker()


def validator_for(contract: Contract, schema_uri: str) -> Draft202012Validator:
    cache: dict[str, Draft202012Validator] = contract.__dict__.setdefault("_validators", {})
    validator = cache.get(schema_uri)
    if validator is None:
        validator = Draft202012Validator(
            {"$ref": schema_uri}, registry=contract.registry, format_checker=FORMATS
        )
        cache[schema_uri] = validator
    return validator


def schema_type(schema: dict[str, Any]) -> set[str]:
    """The JSON types a (resolved) schema allows, for coercing query strings."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return set(kind)
    return set()
