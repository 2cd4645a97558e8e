"""Adversarial within the contract, the records: every shape the schema allows, not the tidiest.

Made by the generator alone, every record would carry every optional field, its arrays at their
usual lengths and exactly the fields the schema names; a real platform's records do not. Drawn
from each record's own seed (the same seed gives the same data), some records leave optional
fields out entirely, some arrays are empty where `minItems` allows, and where the schema allows
additional properties some records carry fields it does not name. (Nullable fields are already
null at the profile's `null_share`, and string ids that permit digits are partly numeric-looking:
harness.synth.ids.NumericLookingCodec.) The id, updated-at and created-at fields are never left
out: the sandbox pages, filters and stamps by them; nor are the fields an evolved contract adds
(harness.contract.evolve), which CHG-01 serves on every record. A shaped record the contract's
validator refuses (a `dependentRequired`, branches told apart by a field) is kept as it was made.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from harness.contract import Collection, Contract
from harness.contract.evolve import Evolution
from harness.contract.plain import plainest
from harness.core.changes import CREATED_NAMES

# per record and field: how often an optional field is left out, an array is empty, and (per
# record) extra fields are added
CHANCE = {"absent": 0.2, "empty": 0.25, "extra": 0.3}
# fields a platform adds beyond its contract, where the contract allows it (none names the harness)
EXTRA_FIELDS = ("legacy_id", "beta_features", "account_tier", "sync_token", "internal_score")


@dataclass(frozen=True)
class Plan:
    """What may be changed in one collection's records, read once from its item schema."""

    optional: tuple[str, ...]  # may be left out
    arrays: tuple[str, ...]  # may be []
    extra: Any  # None: no undeclared field allowed; True: any; a dict: the schema they take
    extra_uri: str
    names: frozenset[str]  # every declared property name
    patterns: tuple[re.Pattern[str], ...]  # patternProperties: extras must match none

    @property
    def idle(self) -> bool:
        return not (self.optional or self.arrays or self.extra is not None)


def plan_for(contract: Contract, col: Collection) -> Plan:
    """The collection's plan: its item schema's top-level properties, through allOf parts."""
    props: dict[str, tuple[Any, str]] = {}
    required: set[str] = set()
    closed, extra, extra_uri = False, None, ""
    patterns: list[re.Pattern[str]] = []
    todo = [(col.item_schema, col.item_schema_uri)]
    for _ in range(50):
        if not todo:
            break
        node, uri = contract.deref(*todo.pop(0))
        if not isinstance(node, dict):
            continue
        for name, sub in (node.get("properties") or {}).items():
            props.setdefault(name, contract.deref(sub, f"{uri}/properties/{name}"))
        required.update(r for r in node.get("required") or () if isinstance(r, str))
        more = node.get("additionalProperties", True)
        if more is False or node.get("unevaluatedProperties") is False:
            closed = True
        elif isinstance(more, dict) and extra is None:
            extra, extra_uri = more, f"{uri}/additionalProperties"
        for pattern in node.get("patternProperties") or {}:
            try:
                patterns.append(re.compile(pattern))
            except re.error:
                closed = True  # a pattern Python cannot read: no name is known to be free
        todo += [(part, f"{uri}/allOf/{i}") for i, part in enumerate(node.get("allOf") or [])]
    evolution = Evolution.of(contract)  # the fields a next version adds are what CHG-01 serves
    kept = {
        col.id_field,
        col.updated_field,
        *CREATED_NAMES,
        *(evolution.fields.get(col.name, ()) if evolution else ()),
    }
    optional = tuple(n for n in props if n not in required and n not in kept)
    arrays = tuple(n for n, (schema, _) in props.items() if n not in kept and _may_be_empty(schema))
    allowed = None if closed else extra if extra is not None else True
    return Plan(optional, arrays, allowed, extra_uri, frozenset(props), tuple(patterns))


def untidy(
    contract: Contract, col: Collection, plan: Plan, record: dict[str, Any], seed: int
) -> dict[str, Any]:
    """The record with some optional fields left out, arrays emptied and extra fields added, as
    drawn from `seed`; the record as it was when the contract would refuse the result."""
    if plan.idle:
        return record
    rng = random.Random(f"{seed}:untidy")
    out = {k: v for k, v in record.items() if not (k in plan.optional and rng.random() < CHANCE["absent"])}
    for name in plan.arrays:
        if isinstance(out.get(name), list) and out[name] and rng.random() < CHANCE["empty"]:
            out[name] = []
    if plan.extra is not None and rng.random() < CHANCE["extra"]:
        for name in rng.sample(EXTRA_FIELDS, k=rng.randint(1, 2)):
            if name in plan.names or any(p.search(name) for p in plan.patterns):
                continue
            value = _extra_value(contract, plan, name, rng)
            if value is not _NONE:
                out[name] = value
    if out == record or not contract.validator(col.item_schema_uri).is_valid(out):
        return record
    return out


_NONE = object()


def _extra_value(contract: Contract, plan: Plan, name: str, rng: random.Random) -> Any:
    """A value for an extra field, of the kind its name suggests, that `additionalProperties`
    accepts; _NONE when neither it nor the schema's plainest value is accepted."""
    value: Any
    if name == "legacy_id":
        value = str(rng.randint(1, 99_999)).zfill(6)
    elif name == "beta_features":
        value = rng.sample(["new_ui", "bulk_export", "ai_assist"], k=rng.randint(0, 2))
    elif name == "account_tier":
        value = rng.choice(["free", "pro", "enterprise"])
    elif name == "sync_token":
        value = f"{rng.getrandbits(64):016x}"
    else:
        value = round(rng.uniform(0, 1), 4)
    if plan.extra is True:
        return value
    check = contract.validator(plan.extra_uri)
    for candidate in (value, plainest(contract, plan.extra, plan.extra_uri)):
        if check.is_valid(candidate):
            return candidate
    return _NONE


def _may_be_empty(schema: Any) -> bool:
    """An array schema whose minItems (absent: 0) lets it be empty."""
    if not isinstance(schema, dict):
        return False
    kind = schema.get("type")
    kinds = {kind} if isinstance(kind, str) else set(kind) if isinstance(kind, list) else set()
    is_array = "array" in kinds or (not kinds and "items" in schema)
    return is_array and not schema.get("minItems")
