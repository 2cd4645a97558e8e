"""The contract's next additive version, derived from a seed: what a platform ships without
calling it a breaking change, so connectors must survive it (change tolerance, the CHG checks).

A platform adds optional fields to records, values to the enums of what it answers, and marks
operations deprecated with a sunset date (`Deprecation`, RFC 9745; `Sunset`, RFC 8594). Nothing is
removed, and no request gains a required field: a connector written against today's contract
stays a valid client of the evolved one, and every response valid today stays valid.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from typing import Any

from referencing import Resource
from referencing.jsonschema import DRAFT202012

from harness.contract.collections import find_feed, list_ok_schema
from harness.contract.events import TYPE_NAMES
from harness.contract.model import Contract
from harness.contract.pointer import join, resolve
from harness.core.changes import singular

EXTENSION = "x-harness-evolution"  # on the evolved document's root: what was added, for the sandbox
WORDS = ("region", "tier", "segment", "channel", "origin", "cohort", "locale_hint", "rank")
ENUM_WORDS = ("archived", "pending_review", "suspended", "migrated", "on_hold", "legacy")
EVENT_WORDS = ("merged", "enriched", "reassigned", "restored", "verified")  # new kinds of change
DEPRECATION = "@1798761600"  # RFC 9745: a structured-field date, 2027-01-01T00:00:00Z
SUNSET = "Thu, 01 Jul 2027 00:00:00 GMT"  # RFC 8594: an HTTP-date
HEADERS = {
    "Deprecation": {"description": "RFC 9745: this operation is deprecated", "schema": {"type": "string"}},
    "Sunset": {"description": "RFC 8594: when this operation goes away", "schema": {"type": "string"}},
}


@dataclass(frozen=True)
class Evolution:
    """What the evolved version adds: stream -> new field names, (stream, field) -> new enum
    values, the operations now deprecated (operationId -> {Deprecation, Sunset} values), and
    stream -> the new event type its records' changes announce on the change feed."""

    seed: int
    fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    enums: dict[str, dict[str, str]] = field(default_factory=dict)  # stream -> field -> new value
    deprecated: dict[str, dict[str, str]] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=dict)  # stream -> new feed event type

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "fields": {k: list(v) for k, v in self.fields.items()},
            "enums": self.enums,
            "deprecated": self.deprecated,
            "events": self.events,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Evolution:
        fields = {k: tuple(v) for k, v in (raw.get("fields") or {}).items()}
        return cls(
            int(raw.get("seed", 0)),
            fields,
            dict(raw.get("enums") or {}),
            dict(raw.get("deprecated") or {}),
            dict(raw.get("events") or {}),
        )

    @classmethod
    def of(cls, contract: Contract) -> Evolution | None:
        """The evolution an evolved contract carries; None for a contract as published."""
        raw = contract.document.get(EXTENSION)
        if not isinstance(raw, dict):
            return None
        return cls.from_dict(raw)


def evolve(contract: Contract, seed: int) -> Contract:
    """The contract's next additive version for this seed (the same seed, the same version).

    Every collection's record schema (where the document itself defines it, with `properties`)
    gains one optional field of a seed-chosen name and type; each string enum of two or more
    values among its top-level fields gains one value; every collection's list operation is
    deprecated, with `Deprecation` and `Sunset` declared on its 2xx answers; the change feed's
    event type enum (where the document defines one) gains a new kind of change for each
    collection its values name (`contact.merged`), which the sandbox announces after each update.
    """
    rng = random.Random(seed)
    doc = copy.deepcopy(contract.document)
    doc.pop(EXTENSION, None)
    added: dict[str, tuple[str, ...]] = {}
    enums: dict[str, dict[str, str]] = {}
    deprecated: dict[str, dict[str, str]] = {}
    done: set[str] = set()  # schema pointers already evolved (collections sharing one schema)
    for col in sorted(contract.collections.values(), key=lambda c: c.name):
        pointer = _local(contract, col.item_schema_uri)
        schema = resolve(doc, pointer) if pointer is not None else None
        if isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
            props: dict[str, Any] = schema["properties"]
            if pointer in done:
                added[col.name] = tuple(p for p in props if p.startswith("evolved_"))
            else:
                done.add(str(pointer))
                name = _fresh(props, rng)
                props[name] = rng.choice(_NEW_TYPES)()
                added[col.name] = (name,)
                enums[col.name] = _widen_enums(doc, props, rng)
        op = col.list_op
        answers = resolve(doc, join("paths", op.path, op.method.lower()))
        if isinstance(answers, dict) and not op.webhook:
            answers["deprecated"] = True
            for status, response in (answers.get("responses") or {}).items():
                if str(status).startswith("2") and isinstance(response, dict) and "$ref" not in response:
                    response.setdefault("headers", {}).update(copy.deepcopy(HEADERS))
            deprecated[op.operation_id] = {"Deprecation": DEPRECATION, "Sunset": SUNSET}
    events = _widen_feed(contract, doc, rng)
    evolution = Evolution(seed, added, {k: v for k, v in enums.items() if v}, deprecated, events)
    doc[EXTENSION] = evolution.to_dict()
    uri = f"{contract.uri.partition('#')[0]}.evolved-{seed}"
    registry = contract.registry.with_resource(
        uri, Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    return Contract(file=contract.file, document=doc, uri=uri, registry=registry, version=contract.version)


def _fresh(props: dict[str, Any], rng: random.Random) -> str:
    """A new field name no record has: `evolved_<word>`, numbered if taken."""
    base = f"evolved_{rng.choice(WORDS)}"
    name, n = base, 1
    while name in props:
        n += 1
        name = f"{base}_{n}"
    return name


_NEW_TYPES = (
    lambda: {"type": "string", "maxLength": 40, "description": "added in the next version"},
    lambda: {"type": "integer", "minimum": 0, "maximum": 1000, "description": "added in the next version"},
    lambda: {"type": "boolean", "description": "added in the next version"},
    lambda: {
        "type": "object",
        "description": "added in the next version",
        "properties": {
            "code": {"type": "string", "maxLength": 12},
            "level": {"type": "integer", "minimum": 0},
        },
    },
)


def _widen_enums(doc: dict[str, Any], props: dict[str, Any], rng: random.Random) -> dict[str, str]:
    """Add a value to each plain string enum (two values or more, no pattern or length bound)
    among the record's top-level fields; field -> the value added."""
    out: dict[str, str] = {}
    seen: set[int] = set()
    for name, prop in sorted(props.items()):
        node = _follow(doc, prop)
        if not isinstance(node, dict) or id(node) in seen:
            continue
        values = node.get("enum")
        if (
            not isinstance(values, list)
            or len(values) < 2
            or not all(isinstance(v, str) for v in values)
            or any(k in node for k in ("pattern", "maxLength", "format", "const"))
        ):
            continue
        seen.add(id(node))
        value = f"{rng.choice(ENUM_WORDS)}_v2"
        while value in values:
            value += "x"
        values.append(value)
        out[name] = value
    return out


def _widen_feed(contract: Contract, doc: dict[str, Any], rng: random.Random) -> dict[str, str]:
    """Add a new kind of change to the change feed's `type` enum: `<kind>.<word>` for each
    collection whose kind (`contact`) its values use, or for every collection where the type is
    any string; stream -> the type added."""
    feed = find_feed(contract)
    page = list_ok_schema(contract, feed) if feed is not None else None
    pointer = _local(contract, page[0]) if page is not None else None
    node = _follow(doc, resolve(doc, pointer)) if pointer is not None else None
    props = node.get("properties") if isinstance(node, dict) else None
    arrays = [_follow(doc, p) for p in (props or {}).values()]
    items = next((_follow(doc, a.get("items")) for a in arrays if isinstance(a, dict) and "items" in a), None)
    fields = items.get("properties") if isinstance(items, dict) else None
    kind = next(
        (_follow(doc, fields[n]) for n in TYPE_NAMES if isinstance(fields, dict) and n in fields), None
    )
    if not isinstance(kind, dict):
        return {}
    values = kind.get("enum")
    if values is None:  # any string (Stripe's event types): every collection's kind gets one
        if kind.get("type") != "string" or {"pattern", "const", "format"} & set(kind):
            return {}
    elif not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        return {}
    word, out = rng.choice(EVENT_WORDS), {}
    for col in sorted(contract.collections.values(), key=lambda c: c.name):
        prefix = singular(col.name)
        if values is None:
            out[col.name] = f"{prefix}.{word}"
        elif any(v.startswith(f"{prefix}.") for v in values):
            new = f"{prefix}.{word}"
            while new in values:
                new += "_v2"
            values.append(new)
            out[col.name] = new
    return out


def _follow(doc: dict[str, Any], node: Any) -> Any:
    """A schema, through local `$ref`s (external ones are left as they are: None)."""
    for _ in range(16):
        if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
            return node
        ref = node["$ref"]
        if not ref.startswith("#"):
            return None
        node = resolve(doc, ref[1:])
    return None


def _local(contract: Contract, uri: str) -> str | None:
    """The JSON pointer of a URI in the contract's own document; None for another document."""
    base, _, fragment = uri.partition("#")
    return fragment if base == contract.uri.partition("#")[0] else None


__all__ = ["EXTENSION", "Evolution", "evolve"]
