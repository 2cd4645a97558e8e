"""Read a contract file and refuse one that cannot be used, saying where and how to fix it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable
from referencing.jsonschema import DRAFT202012

from harness.contract.errors import ContractError, Problem
from harness.contract.model import Contract
from harness.contract.pointer import escape

SUPPORTED = ("3.0", "3.1")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def default_contract_path() -> Path:
    """The bundled reference contract: `contracts/platform.openapi.yaml` of this project."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here.parent / "contracts", here / "_bundled"):
        path = candidate / "platform.openapi.yaml"
        if path.is_file():
            return path
    raise FileNotFoundError("the bundled reference contract (contracts/platform.openapi.yaml) is missing")


def read_document(path: Path) -> Any:
    """Parse YAML or JSON; a syntax error names the line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContractError(str(path), [Problem("", "no such file", "check the --contract path")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(
            str(path), [Problem("", f"cannot read the file: {exc}", "save it as UTF-8")]
        ) from None
    if path.suffix == ".json" or text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ContractError(
                str(path), [Problem("", f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")]
            ) from None
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ContractError(str(path), [Problem("", f"invalid YAML at {where}{exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise ContractError(str(path), [Problem("", f"invalid YAML: {exc}")]) from None


def load(path: str | Path, *, check: bool = True) -> Contract:
    """Load an OpenAPI 3.0/3.1 contract (YAML or JSON) and resolve its references.

    With `check` (the default) the document is validated against the OpenAPI schema and every
    `$ref` is resolved once, so a broken contract fails here and not in the middle of a run.
    """
    path = Path(path)
    doc = read_document(path)
    file = str(path)
    version = _version(file, doc)
    if check and (problems := structure_problems(doc, version)):
        raise ContractError(file, problems)
    if version == "3.0":
        doc = _nullable_to_type(doc)
    uri = path.resolve().as_uri()
    registry: Registry = Registry(retrieve=_retrieve).with_resource(
        uri, Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    if check and (problems := ref_problems(doc, uri, registry)):
        raise ContractError(file, problems)
    return Contract(file=file, document=doc, uri=uri, registry=registry, version=version)


def _version(file: str, doc: Any) -> str:
    if not isinstance(doc, dict):
        raise ContractError(
            file,
            [
                Problem(
                    "",
                    f"the document is a {type(doc).__name__}, not a mapping",
                    "an OpenAPI document is a mapping with an `openapi` field",
                )
            ],
        )
    if "swagger" in doc:
        raise ContractError(
            file,
            [
                Problem(
                    "/swagger",
                    f"Swagger {doc['swagger']} is not supported",
                    "convert it to OpenAPI 3 (e.g. with swagger2openapi)",
                )
            ],
        )
    raw = doc.get("openapi")
    if raw is None:
        raise ContractError(
            file,
            [
                Problem(
                    "/openapi",
                    "not an OpenAPI document: no `openapi` field",
                    "add `openapi: 3.1.0` and the API's paths",
                )
            ],
        )
    version = ".".join(str(raw).split(".")[:2])
    if version not in SUPPORTED:
        raise ContractError(
            file, [Problem("/openapi", f"OpenAPI {raw} is not supported", "use OpenAPI 3.0.x or 3.1.x")]
        )
    return version


def structure_problems(doc: dict[str, Any], version: str) -> list[Problem]:
    """Check the document against the official OpenAPI schema of its version."""
    from openapi_spec_validator.schemas import (
        openapi_v30_schema_validator,
        openapi_v31_schema_validator,
    )

    validator = openapi_v31_schema_validator if version == "3.1" else openapi_v30_schema_validator
    found: dict[str, Problem] = {}
    for error in validator.iter_errors(doc):
        error = _most_specific(error)
        pointer = "".join(f"/{escape(str(part))}" for part in error.absolute_path)
        found.setdefault(
            pointer,
            Problem(
                pointer,
                _shorten(error.message.split("\n\n")[0]),
                "see the OpenAPI specification for this object",
            ),
        )
    return sorted(found.values(), key=lambda p: p.pointer)[:20]


def _most_specific(error: ValidationError) -> ValidationError:
    """For oneOf/anyOf failures, the sub-error deepest in the document says most."""
    while error.context:
        error = max(error.context, key=lambda e: len(e.absolute_path))
    return error


def ref_problems(doc: Any, uri: str, registry: Registry) -> list[Problem]:
    """Resolve every `$ref` once; report each that points nowhere with where it is written."""
    resolver = registry.resolver(base_uri=uri)
    problems = []
    for pointer, ref in _refs(doc, ""):
        try:
            resolver.lookup(ref)
        except (Unresolvable, NoSuchResource) as exc:
            problems.append(
                Problem(
                    f"{pointer}/$ref",
                    f"$ref {ref!r} points nowhere ({type(exc).__name__})",
                    "define the target or correct the reference",
                )
            )
    return problems


def _refs(node: Any, pointer: str):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield pointer, ref
        for key, value in node.items():
            yield from _refs(value, f"{pointer}/{escape(str(key))}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _refs(value, f"{pointer}/{index}")


def _retrieve(uri: str) -> Resource:
    """Load a file a `$ref` names (a split contract), on first use."""
    if not uri.startswith("file://"):
        raise NoSuchResource(ref=uri)
    from urllib.parse import unquote, urlparse

    path = Path(unquote(urlparse(uri).path))
    try:
        contents = read_document(path)
    except ContractError:
        raise NoSuchResource(ref=uri) from None
    return Resource.from_contents(contents, default_specification=DRAFT202012)


def _nullable_to_type(node: Any) -> Any:
    """OpenAPI 3.0 schemas say `nullable: true`; JSON Schema says `type: [..., "null"]`."""
    if isinstance(node, list):
        return [_nullable_to_type(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable_to_type(v) for k, v in node.items()}
    if out.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    for bound, flag in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        exclusive = out.pop(flag) if isinstance(out.get(flag), bool) else None
        if exclusive and bound in out:
            out[flag] = out.pop(bound)
    return out


def _shorten(message: str, limit: int = 200) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."
