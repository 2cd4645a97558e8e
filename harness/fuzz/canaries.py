"""Target `canaries`: recognizable values planted in the fields a connector does not declare.

Where the manifest lists the fields a stream uses (`[connector.fields]`), every other field of a
record is data the connector must not keep. The slots a canary can go in are the undeclared
properties that hold a string (plain, email, hostname or uri, or a list of them), a key of an
undeclared free-form object (`additionalProperties`; the key is drawn to its `propertyNames`),
and a top-level key when the record's schema allows properties it does not name. An input is a
hostile tenant plus canaries in some of those slots, of new records (before the full sync) or of
an existing record (before an incremental sync). Every response still conforms to the contract.

The oracle: a canary anywhere it should never be: the replica (records of any stream,
checkpoints, logs), its errors, stderr and prints, or the URL of a request it makes. Shrinking
keeps the one slot that leaks.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from harness.contract.schema import schema_type
from harness.core.requests import LoggedRequest
from harness.fuzz.oracles import Problem, judge_run, places, secrets_of
from harness.fuzz.target import Example, Limits, Outcome, requests_outcome
from harness.fuzz.world import Run, World
from harness.runtime.handle import SandboxError

FORMATS = {
    None: "{}",
    "email": "{}@example.com",
    "hostname": "{}.example.com",
    "uri": "https://example.com/{}",
}
KEY = r"[a-z][a-z0-9_]{0,15}"  # keys drawn for objects that say nothing of their property names
MAX_PLANTS = 3


@dataclass(frozen=True)
class Slot:
    """Where in a record of `stream` a canary can go: a property, a key of a free-form property
    (`keyed`), or a top-level key the schema does not name (`field` None)."""

    stream: str
    field: str | None
    keyed: bool = False
    key_pattern: str = KEY

    @property
    def label(self) -> str:
        if self.field is None:
            return f"{self.stream} (a property its schema does not name)"
        return f"{self.stream}.{self.field}" + ("[*]" if self.keyed else "")


class Canaries:
    name = "canaries"
    description = "canaries in the fields it does not declare: none may reach its replica or output"

    def strategy(self, world: World) -> st.SearchStrategy[Example]:
        slots = [s for stream in _declared(world) for s in slots_of(world, stream)]
        if not slots:
            return st.nothing()
        streams = list(world.manifest.streams)
        page = int(world.manifest.config.get("page_size") or 100)
        size = st.one_of(st.sampled_from([1, 3, page, page + 1]), st.integers(1, 2 * page + 1))
        slot = st.sampled_from(slots).flatmap(_placed)
        plant = st.fixed_dictionaries(
            {"slots": st.lists(slot, min_size=1, max_size=4), "later": st.booleans()}
        )
        return st.fixed_dictionaries(
            {
                "seed": st.integers(0, 2**31 - 1),
                "profile": st.sampled_from(["small", "edge"]),
                "sizes": st.fixed_dictionaries({s: size for s in streams}),
                "plant": st.lists(plant, min_size=1, max_size=MAX_PLANTS),
            }
        )

    def execute(self, world: World, example: Example, limits: Limits) -> Outcome:
        tenant = world.tenant(example["seed"], example["sizes"], example["profile"])
        replica = world.replica()
        canaries: dict[str, tuple[str, str]] = {}  # canary -> (where it was planted, its slot)
        driver = None
        try:
            now = [p for p in example["plant"] if not p["later"]]
            later = [p for p in example["plant"] if p["later"]]
            try:
                _plant(world, tenant, now, canaries, update=False)
            except SandboxError:
                return Outcome(fair=False)  # the sandbox refused the record: the input proves nothing
            driver = world.connector(tenant, replica)
            run = world.sync(tenant, replica, driver=driver)
            runs = [run]
            if later and not run.errors:
                try:
                    _plant(world, tenant, later, canaries, update=True)
                except SandboxError:
                    return Outcome(fair=False)
                runs.append(world.sync(tenant, replica, replica.state, driver=driver, check_first=False))
            requests = tenant.requests()
            outcome = requests_outcome(requests)
            if not outcome.fair:
                return outcome
            last = runs[-1]
            merged = Run(
                tenant,
                replica,
                errors=[e for r in runs for e in r.errors],
                stderr=last.stderr,
                peak_kib=max(r.peak_kib for r in runs),
            )
            found = canary_problem(canaries, places(replica, merged.stderr, merged.errors), requests)
            outcome.problems = judge_run(
                world,
                merged,
                after="after syncs of records with canaries in undeclared fields",
                memory_mib=limits.memory_mib,
                secrets=secrets_of(world, tenant),
                requests=requests,
            )
            if found:  # a canary is also a canary shape: say where it was planted, not just its shape
                outcome.problems = [found, *(p for p in outcome.problems if p.oracle != "leak")]
            outcome.scores["canaries"] = float(len(canaries))
            return outcome
        finally:
            if driver is not None:
                driver.close()
            tenant.delete()

    def describe(self, example: Example) -> str:
        sizes = ", ".join(f"{s}={n}" for s, n in example["sizes"].items())
        plants = "; ".join(
            ("an update before an incremental sync: " if p["later"] else "a new record: ")
            + ", ".join(_slot_text(s) for s in p["slots"])
            for p in example["plant"]
        )
        tenant = f"a {example['profile']}-profile tenant (seed {example['seed']}, {sizes})"
        return f"{tenant} with canaries in {plants}"


def canary_problem(
    canaries: dict[str, tuple[str, str]],
    found_in: list[tuple[str, str]],
    requests: Iterable[LoggedRequest] = (),
) -> Problem | None:
    """The first planted canary (canary -> where it was planted, its slot) found in what the
    connector produced or in the URL of a request it made."""
    urls = [(f"the URL of its request {e.method} {e.path}", e.path + "?" + e.query_string) for e in requests]
    for where, text in [*found_in, *urls]:
        for canary, (planted, slot) in canaries.items():
            if canary in text:
                place = "the URL of a request" if where.startswith("the URL of") else where
                return Problem(
                    "canary",
                    f"the canary planted in {planted}, a field it does not declare, appears in {where}",
                    f"{slot.partition('.')[0]} in {place}",  # one defect, whichever field shows it
                )
    return None


def slots_of(world: World, stream: str) -> list[Slot]:
    """The slots of a stream's records that can hold a canary and that it does not declare (none
    when it lists no fields for the stream: then every field is one it uses)."""
    if not world.manifest.fields.get(stream):
        return []
    col = world.contract.collections[stream]
    schema, uri = world.contract.deref(col.item_schema, col.item_schema_uri)
    keep = {*world.fixed_fields(stream), *world.manifest.fields.get(stream, ())}
    out: list[Slot] = []
    properties = schema.get("properties") or {}
    for name, prop in properties.items():
        if name in keep:
            continue
        resolved, at = world.contract.deref(prop, uri)
        free = _free_form(world, resolved, at)
        if free is not None:
            out.append(Slot(stream, name, keyed=True, key_pattern=free))
        elif _value(world, resolved, at, "cnry000000000000") is not None:
            out.append(Slot(stream, name))
    extra = schema.get("additionalProperties", True)
    if extra is not False and schema.get("unevaluatedProperties", True) is not False:
        pattern = (schema.get("propertyNames") or {}).get("pattern") or KEY
        if isinstance(extra, dict):
            extra_schema, extra_uri = world.contract.deref(extra, uri)
            if _value(world, extra_schema, extra_uri, "cnry000000000000") is None:
                return out
        out.append(Slot(stream, None, keyed=True, key_pattern=pattern))
    return out


def _declared(world: World) -> list[str]:
    return [s for s in world.manifest.streams if world.manifest.fields.get(s)]


def _placed(slot: Slot) -> st.SearchStrategy[dict[str, Any]]:
    key: st.SearchStrategy[str | None] = (
        st.from_regex(slot.key_pattern, fullmatch=True).filter(lambda k: 0 < len(k) <= 40)
        if slot.keyed
        else st.none()
    )
    return st.fixed_dictionaries({"stream": st.just(slot.stream), "field": st.just(slot.field), "key": key})


def _slot_text(spec: dict[str, Any]) -> str:
    if spec["field"] is None:
        return f"{spec['stream']}.{spec['key']} (not in its schema)"
    return f"{spec['stream']}.{spec['field']}" + (f"[{spec['key']!r}]" if spec["key"] is not None else "")


def _plant(
    world: World,
    tenant: Any,
    plants: list[dict[str, Any]],
    canaries: dict[str, tuple[str, str]],
    *,
    update: bool,
) -> None:
    """Create one record per plant (or, when `update`, change an existing one) with its canaries."""
    for number, plant in enumerate(plants):
        by_stream: dict[str, list[dict[str, Any]]] = {}
        for spec in plant["slots"]:
            by_stream.setdefault(spec["stream"], []).append(spec)
        for stream, specs in by_stream.items():
            col = world.contract.collections[stream]
            existing = tenant.records(stream)
            if not existing:
                continue
            fields, planted = _fields(world, stream, specs, existing[0], f"{int(update)}:{number}")
            if not fields:
                continue
            if update:
                target = existing[-1][col.id_field]
                tenant.update(stream, target, fields)
            else:
                target = tenant.create(stream, fields)[col.id_field]
            for canary, where in planted.items():
                slot = f"{stream}." + re.sub(r"\[.*\]", "[*]", where).replace(" (not in its schema)", "")
                canaries[canary] = (f"{stream}/{target} {where}", slot)


def _fields(
    world: World, stream: str, specs: list[dict[str, Any]], base: dict[str, Any], salt: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """Schema-valid values carrying a canary for each slot; any the schema refuses is dropped."""
    col = world.contract.collections[stream]
    schema, uri = world.contract.deref(col.item_schema, col.item_schema_uri)
    properties = schema.get("properties") or {}
    fields: dict[str, Any] = {}
    planted: dict[str, str] = {}
    for spec in specs:
        canary = _canary(f"{salt}:{stream}:{spec['field']}:{spec['key']}")
        field, key = spec["field"], spec["key"]
        if field is None:
            if key in properties or key in fields:
                continue
            extra = schema.get("additionalProperties", True)
            extra_schema, extra_uri = world.contract.deref(extra if isinstance(extra, dict) else {}, uri)
            value = _value(world, extra_schema, extra_uri, canary) if extra_schema else canary
            if value is not None:
                fields[key], planted[canary] = value, f"{key} (not in its schema)"
            continue
        prop, at = world.contract.deref(properties.get(field, {}), uri)
        if key is not None:
            inner, inner_uri = world.contract.deref(prop.get("additionalProperties") or {}, at)
            value = _value(world, inner, inner_uri, canary) if inner else canary
            if value is not None:
                fields.setdefault(field, {})[key] = value
                planted[canary] = f"{field}[{key!r}]"
        else:
            value = _value(world, prop, at, canary)
            if value is not None:
                fields[field], planted[canary] = value, field
    validator = world.contract.validator(col.item_schema_uri)
    for error in validator.iter_errors({**base, **fields}):
        if error.absolute_path and error.absolute_path[0] in fields:
            fields.pop(error.absolute_path[0])
    planted = {c: where for c, where in planted.items() if re.split(r"[\[ ]", where)[0] in fields}
    return fields, planted


def _canary(text: str) -> str:
    return "cnry" + hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def _free_form(world: World, prop: Any, uri: str) -> str | None:
    """The key pattern of an object that names no properties and takes others of a canary-able
    type; None for any other schema."""
    if not isinstance(prop, dict) or "object" not in schema_type(prop) or prop.get("properties"):
        return None
    extra = prop.get("additionalProperties", True)
    if extra is False:
        return None
    if isinstance(extra, dict):
        inner, at = world.contract.deref(extra, uri)
        if _value(world, inner, at, "cnry000000000000") is None:
            return None
    pattern = (prop.get("propertyNames") or {}).get("pattern")
    return str(pattern) if pattern else KEY


def _value(world: World, prop: Any, uri: str, canary: str, depth: int = 0) -> Any:
    """A value of `prop`'s schema that carries `canary`, or None when it cannot hold one."""
    prop, uri = world.contract.deref(prop, uri)
    if not isinstance(prop, dict) or depth > 2:
        return None
    for option in prop.get("oneOf") or prop.get("anyOf") or []:
        value = _value(world, option, uri, canary, depth + 1)
        if value is not None:
            return value
    types = schema_type(prop) or ({"string"} if not prop else set())
    if "string" in types and not {"enum", "const", "pattern"} & set(prop) and prop.get("format") in FORMATS:
        value = FORMATS[prop.get("format")].format(canary)
        return value if prop.get("minLength", 0) <= len(value) <= prop.get("maxLength", len(value)) else None
    if "array" in types and prop.get("maxItems", 1) >= 1:
        item = _value(world, prop.get("items", {}), uri, canary, depth + 1)
        return [item] if item is not None else None
    return None


__all__ = ["Canaries", "Slot", "canary_problem", "slots_of"]
