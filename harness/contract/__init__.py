"""Read a platform's OpenAPI contract: operations, collections, scopes and validation."""

from harness.contract.formats import defer_iri_grammar

defer_iri_grammar()

# ruff: noqa: E402 - the stand-in must be in place before jsonschema is first imported

from harness.contract.collections import Collection, Pagination
from harness.contract.errors import ContractError, Problem, Violation
from harness.contract.loader import bundled_contract_path, default_contract_path, load
from harness.contract.model import Contract, Operation, Parameter, Response
from harness.contract.routing import Match
from harness.contract.validation import parse_body, validate_request, validate_response

__all__ = [
    "Collection",
    "Contract",
    "ContractError",
    "Match",
    "Operation",
    "Pagination",
    "Parameter",
    "Problem",
    "Response",
    "Violation",
    "bundled_contract_path",
    "default_contract_path",
    "load",
    "parse_body",
    "validate_request",
    "validate_response",
]
