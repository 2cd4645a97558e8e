"""The contract as each direction of a message sees it: `readOnly` and `writeOnly` (OpenAPI 3.x).

A property marked `writeOnly` (Jira's `name` of a field configuration, Box's signer `password`)
is sent by clients and never answered with, even where the schema lists it as `required`: the
OpenAPI specification says `required` then applies to requests only. `readOnly` is the mirror:
answered, never required of a client. JSON Schema validators know neither keyword, so each
direction gets its own copy of the document in which the other direction's properties are
rewritten, the way schemathesis reads them:

- answers (responses, records): a `writeOnly` property is `{"not": {}}` (it must be absent)
  and leaves `required`;
- requests: a `readOnly` property leaves `required` (a client that sends one anyway is not
  refused: the sandbox is lenient where the contract only says "should not"), and a `oneOf`
  reads as `anyOf`: a body that fits more than one branch is accepted, as servers and
  schemathesis do (Zoom's account settings are a `oneOf` of three objects with no required
  property, which every body fits at once). A local `$ref` that points through a `oneOf`
  (DigitalOcean's `.../schema/oneOf/0/allOf/0`) is pointed through the `anyOf` it became.

A property counts as marked where the mark is on its schema, behind a local `$ref`, in an
`allOf` branch, or on the non-null side of a nullable union. A document with no such mark is
its own view (no copy).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote

import orjson
from referencing import Resource
from referencing.jsonschema import DRAFT202012

from harness.contract.pointer import resolve, unescape

if TYPE_CHECKING:
    from harness.contract.model import Contract

Direction = Literal["answer", "request"]
ABSENT: dict[str, Any] = {"not": {}}  # a property that must be absent (`false` loses its path in errors)
_SHARED = ("operations", "webhooks", "router", "security_schemes", "collections", "base_path")
_HIDDEN = {"answer": "writeOnly", "request": "readOnly"}  # the mark the direction does not carry


def view(contract: Contract, direction: Direction) -> Contract:
    """The contract as `direction` sees it (the contract itself where nothing is marked)."""
    keyword = _HIDDEN[direction]
    unions = direction == "request"
    if not _mentions(contract.document, keyword, unions):  # one pass in C instead of a walk in Python
        return contract
    document = rewritten(contract.document, keyword, forbid=direction == "answer", unions=unions)
    if document is contract.document:
        return contract
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    seen = replace(
        contract, document=document, registry=contract.registry.with_resource(contract.uri, resource)
    )
    seen.__dict__["for_answers" if direction == "answer" else "for_requests"] = seen  # a view of a view
    for name in _SHARED:  # what the marks do not change, where the contract has it already
        if name in contract.__dict__:
            seen.__dict__[name] = contract.__dict__[name]
    return seen


def _mentions(document: Any, keyword: str, unions: bool = False) -> bool:
    try:
        text = orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # a value orjson cannot write (YAML dates are fine): walk instead
        return True
    return f'"{keyword}":true'.encode() in text or (unions and b'"oneOf":' in text)


def rewritten(document: Any, keyword: str, *, forbid: bool, unions: bool = False) -> Any:
    """`document` with every property marked `keyword` out of `required` (and `ABSENT` where
    `forbid`; each `oneOf` an `anyOf` where `unions`); the same object where nothing changes,
    and unchanged parts shared."""
    return _walk(document, document, keyword, (forbid, unions), set())


def _walk(node: Any, root: Any, keyword: str, how: tuple[bool, bool], busy: set[int]) -> Any:
    forbid, unions = how
    if isinstance(node, list):
        items = [_walk(item, root, keyword, how, busy) for item in node]
        return node if all(a is b for a, b in zip(items, node, strict=True)) else items
    if not isinstance(node, dict) or id(node) in busy:
        return node
    busy.add(id(node))
    try:
        out: dict[str, Any] | None = None
        for key, value in node.items():
            new = _walk(value, root, keyword, how, busy)
            if new is not value:
                out = out if out is not None else dict(node)
                out[key] = new
        if unions and isinstance(node.get("oneOf"), list) and "anyOf" not in node:
            out = out if out is not None else dict(node)
            out["anyOf"] = out.pop("oneOf")
        ref = node.get("$ref")
        if unions and isinstance(ref, str) and ref.startswith("#/") and "/oneOf" in ref:
            moved = through_unions(root, ref)
            if moved != ref:
                out = out if out is not None else dict(node)
                out["$ref"] = moved
        props = (out or node).get("properties")
        if isinstance(props, dict):
            marked = [name for name, sub in props.items() if _marked(sub, root, keyword)]
            if marked:
                out = out if out is not None else dict(node)
                if forbid:
                    out["properties"] = {k: (dict(ABSENT) if k in marked else v) for k, v in props.items()}
                required = out.get("required")
                if isinstance(required, list):
                    kept = [r for r in required if r not in marked]
                    if kept:
                        out["required"] = kept
                    else:
                        del out["required"]
        return out if out is not None else node
    finally:
        busy.discard(id(node))


def _renamed(node: Any) -> bool:
    """Whether the requests' view reads this node's `oneOf` as `anyOf`."""
    return isinstance(node, dict) and isinstance(node.get("oneOf"), list) and "anyOf" not in node


def through_unions(root: Any, ref: str) -> str:
    """A local `$ref` of `root` as it reads once every `oneOf` is an `anyOf`: each `oneOf` token
    of its pointer that names a renamed union becomes `anyOf` (the rest is kept as written,
    escapes and percent-encoding included), so the pointer still names the same schema."""
    tokens = ref[1:].split("/")[1:]
    node = root
    for i, raw in enumerate(tokens):
        if raw == "oneOf" and _renamed(node):
            tokens[i] = "anyOf"
        token = unescape(unquote(raw))
        if isinstance(node, dict):
            node = node.get(token)
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            break
    return "#/" + "/".join(tokens)


def _marked(schema: Any, root: Any, keyword: str) -> bool:
    pending, seen = [schema], set()
    while pending:
        node = pending.pop()
        if not isinstance(node, dict) or id(node) in seen:
            continue
        seen.add(id(node))
        if node.get(keyword) is True:
            return True
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            pending.append(resolve(root, ref[1:]))
        if isinstance(node.get("allOf"), list):
            pending.extend(node["allOf"])
        for union in ("anyOf", "oneOf"):
            variants = node.get(union)
            if isinstance(variants, list):
                non_null = [v for v in variants if v != {"type": "null"}]
                if len(non_null) == 1:
                    pending.append(non_null[0])
    return False
