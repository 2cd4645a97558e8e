"""Read a contract file and refuse one that cannot be used, saying where and how to fix it."""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import yaml
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable
from referencing.jsonschema import DRAFT202012

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

from harness.contract.errors import ContractError, Problem
from harness.contract.model import Contract
from harness.contract.pointer import escape, unescape
from harness.contract.schema import ecma_pattern
from harness.contract.signing import signing_problems

SUPPORTED = ("3.0", "3.1")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def default_contract_path() -> Path:
    """The bundled reference contract: `contracts/platform.openapi.yaml` of this project."""
    return bundled_contract_path("platform.openapi.yaml")


def bundled_contract_path(name: str) -> Path:
    """A contract of this project's `contracts/` (an installed harness has them in `_bundled/`)."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here.parent / "contracts", here / "_bundled"):
        path = candidate / name
        if path.is_file():
            return path
    raise FileNotFoundError(f"the bundled contract contracts/{name} is missing")


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
    return _parse_yaml(path, text)


def _parse_yaml(path: Path, text: str) -> Any:
    """YAML 1.2 through yaml-rs (Rust: ~20x PyYAML's C loader on Zoom's 5 MB spec), giving what
    the same document as JSON gives (dates stay strings); PyYAML's C loader where yaml-rs is
    missing or refuses the text (it also words the error, with line and column)."""
    try:
        import yaml_rs
    except ImportError:  # pragma: no cover - a declared dependency
        pass
    else:
        try:
            return yaml_rs.loads(text, parse_datetime=False)
        except Exception:  # duplicate keys, YAML 1.1-only syntax...: PyYAML decides
            pass
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
    `$ref` is checked once, so a broken contract fails here and not in the middle of a run.
    Schemas themselves are resolved lazily, when an operation or validator first needs them.
    """
    path = Path(path)
    doc = read_document(path)
    file = str(path)
    version = _version(file, doc)
    refs: list[tuple[str, str]] = []
    nullable: list[dict[str, Any]] = []
    patterns: list[tuple[str, str]] = []
    doc = normalise(doc, refs, nullable if version == "3.0" else None, patterns=patterns)
    if check and (
        problems := structure_problems(doc, version) or pattern_problems(patterns) or signing_problems(doc)
    ):
        raise ContractError(file, problems)
    for node in nullable:  # after the check: the OpenAPI 3.0 schema wants 3.0's own spelling
        _json_schema_nullable(node)
    uri = path.resolve().as_uri()
    # `retrieve` is an attrs alias, which mypy's dataclass_transform support does not see
    registry: Registry = Registry(retrieve=_retrieve).with_resource(  # type: ignore[call-arg]
        uri, Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    if check and (problems := ref_problems(doc, uri, registry, refs)):
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
    """Check the document against the official OpenAPI schema of its version.

    jsonschema-rs answers yes/no in milliseconds even for GitHub's 13 MB description; only a
    document that fails is walked again by the Python validator, to name each place and why.
    """
    import jsonschema_rs

    schema = openapi_schema(version)
    try:
        # formats assert in draft 4 (OpenAPI 3.0's schema: e.g. `pattern` must be a regex) and
        # only annotate in 2020-12 (3.1's), as in the Python validator below
        formats = "draft-04" in str(schema.get("$schema"))
        if jsonschema_rs.validator_for(schema, validate_formats=formats).is_valid(doc):
            return []
    except (ValueError, jsonschema_rs.ValidationError):  # pragma: no cover - the Python path decides
        pass
    return _explain(doc, schema)


@functools.cache
def openapi_schema(version: str) -> dict[str, Any]:
    """The official schema of an OpenAPI version, as openapi-spec-validator ships it.

    Read from the package's files without importing it (its import costs more than the check).
    """
    spec = importlib.util.find_spec("openapi_spec_validator")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - a dependency
        raise ImportError("openapi-spec-validator is not installed")
    folder = Path(next(iter(spec.submodule_search_locations))) / "resources" / "schemas" / f"v{version}"
    return json.loads((folder / "schema.json").read_text(encoding="utf-8"))


def _explain(doc: dict[str, Any], schema: dict[str, Any]) -> list[Problem]:
    from jsonschema import FormatChecker
    from jsonschema.validators import validator_for

    cls = validator_for(schema)
    # as jsonschema-rs does: formats are assertions in draft 4 (OpenAPI 3.0's), annotations later
    checker = FormatChecker() if "draft-04" in str(schema.get("$schema")) else None
    validator = cls(schema, format_checker=checker)
    found: dict[str, Problem] = {}
    for error in validator.iter_errors(doc):
        error = _most_specific(error)
        pointer = "".join(f"/{escape(str(part))}" for part in error.absolute_path)
        found.setdefault(pointer, Problem(pointer, _describe(error), _fix(error)))
    return sorted(found.values(), key=lambda p: p.pointer)[:20]


def _most_specific(error: ValidationError) -> ValidationError:
    """For oneOf/anyOf failures, the sub-error deepest in the document says most.

    Among equally deep ones, one that is not about `$ref` (the Reference branch of a oneOf)
    wins, so the message is about what is wrong, not that it is not a reference.
    """
    while error.context:
        error = max(
            error.context,
            key=lambda e: (len(e.absolute_path), e.validator != "required" or "$ref" not in str(e.message)),
        )
    return error


def _describe(error: ValidationError) -> str:
    """The validator's message, without a dump of a big value (the pointer says which)."""
    message = error.message.split("\n\n")[0]
    shown = repr(error.instance)
    if len(shown) > 80:
        message = message.replace(shown, "the value at this pointer")
    return _shorten(message)


def _fix(error: ValidationError) -> str:
    if error.validator == "format" and error.validator_value == "regex":
        return (
            "write the pattern as an ECMA-262 regular expression (`^`/`$` anchors, no Python-only "
            "syntax such as possessive quantifiers or inline flags)"
        )
    if error.validator == "required":
        return f"add the missing field(s): {error.message.split(' is a required')[0]}"
    if error.validator == "additionalProperties":
        return "remove or rename the unknown field(s) (vendor extensions must start with `x-`)"
    if error.validator in ("type", "enum", "const"):
        return f"use a value allowed here: {_shorten(str(error.validator_value), 80)}"
    return "see the OpenAPI specification for this object"


def pattern_problems(patterns: list[tuple[str, str]]) -> list[Problem]:
    """Every `pattern` must be a regex the validators (ECMA-262 dialect) can compile."""
    import jsonschema_rs

    is_regex = jsonschema_rs.validator_for({"format": "regex"}, validate_formats=True).is_valid
    return [
        Problem(
            pointer,
            f"pattern {_shorten(pattern, 80)!r} is not an ECMA-262 regular expression",
            "write it in ECMA-262 syntax (`^`/`$` anchors, no possessive quantifiers or inline flags); "
            "Python's `\\A`, `\\Z` and `(?P<name>...)` are translated already",
        )
        for pointer, pattern in patterns
        if not is_regex(pattern)
    ][:20]


def ref_problems(
    doc: Any, uri: str, registry: Registry, refs: list[tuple[str, str]] | None = None
) -> list[Problem]:
    """Check every `$ref` once; report each that points nowhere with where it is written.

    `refs` is what `normalise` collected (pointer of the object, the reference); references
    inside this document are followed as plain pointers, only others go through the registry.
    """
    if refs is None:
        refs = []
        normalise(doc, refs, None)
    resolver = registry.resolver(base_uri=uri)
    problems = []
    for pointer, ref in refs:
        if ref.startswith("#") and _local(doc, ref[1:]):
            continue
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


def _local(doc: Any, fragment: str) -> bool:
    """True when a JSON pointer (`/components/schemas/X`) names something in `doc`."""
    node = doc
    for raw in fragment.split("/")[1:] if fragment else []:
        token = unescape(unquote(raw))
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False
    return True


def _retrieve(uri: str) -> Resource:
    """Load a file a `$ref` names (a split contract), on first use."""
    if not uri.startswith("file://"):
        raise NoSuchResource(ref=uri)  # type: ignore[call-arg]  # an attrs field, as above
    from urllib.parse import urlparse

    path = Path(unquote(urlparse(uri).path))
    try:
        contents = read_document(path)
    except ContractError:
        raise NoSuchResource(ref=uri) from None  # type: ignore[call-arg]
    return Resource.from_contents(contents, default_specification=DRAFT202012)


def normalise(
    node: Any,
    refs: list[tuple[str, str]],
    nullable: list[dict[str, Any]] | None,
    pointer: str = "",
    patterns: list[tuple[str, str]] | None = None,
) -> Any:
    """One walk over the document: a copy in the regex dialect validators speak, and notes.

    - `pattern`s written in Python's dialect (`\\A...\\Z`, `(?P<name>...)`, as Linode's are) become
      ECMA-262, the dialect of JSON Schema, so validation and generation agree on them.
    - every `$ref` is collected with the pointer of the object holding it, for `ref_problems`.
    - objects that say `nullable` or boolean `exclusiveMinimum` (OpenAPI 3.0) are collected in
      `nullable` (when given) for `_json_schema_nullable`, applied after the structure check.
    """
    if isinstance(node, list):
        return [normalise(v, refs, nullable, f"{pointer}/{i}", patterns) for i, v in enumerate(node)]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if isinstance(value, (dict, list)):
            out[key] = normalise(value, refs, nullable, f"{pointer}/{escape(str(key))}", patterns)
        else:
            out[key] = value
    ref = out.get("$ref")
    if isinstance(ref, str):
        refs.append((pointer, ref))
    pattern = out.get("pattern")
    if isinstance(pattern, str):
        if "\\" in pattern:
            out["pattern"] = ecma_pattern(pattern)
        if patterns is not None:
            patterns.append((f"{pointer}/pattern", out["pattern"]))
    if nullable is not None and (
        "nullable" in out
        or isinstance(out.get("exclusiveMinimum"), bool)
        or isinstance(out.get("exclusiveMaximum"), bool)
    ):
        nullable.append(out)
    return out


def _json_schema_nullable(out: dict[str, Any]) -> None:
    """OpenAPI 3.0 says `nullable: true`; JSON Schema says `type: [..., "null"]` (in place)."""
    if out.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        if kind is None:  # no type to widen: null is one more alternative (GitHub's nullable oneOf)
            for key in ("anyOf", "oneOf"):
                if isinstance(out.get(key), list) and {"type": "null"} not in out[key]:
                    out[key] = [*out[key], {"type": "null"}]
                    break
            else:
                if isinstance(out.get("allOf"), list):
                    out["anyOf"] = [{"allOf": out.pop("allOf")}, {"type": "null"}]
    for bound, flag in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        exclusive = out.pop(flag) if isinstance(out.get(flag), bool) else None
        if exclusive and bound in out:
            out[flag] = out.pop(bound)


def _shorten(message: str, limit: int = 200) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."
