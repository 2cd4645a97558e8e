"""Compile a JSON Schema into a function that makes one valid value from a seeded Faker.

Compiling once per collection keeps per-record work to the Faker calls themselves. Field names
and formats choose providers (`first_name`, `email`, `date-time`); `x-faker` overrides them;
`enum`, `pattern`, bounds, formats and nullability are honoured so every value validates.

Real contracts are recursive (a comment has replies, a customer has a subscription that has a
customer), so each schema is compiled once and referred to, and depth is bounded when a value is
made: past `DEPTH` containers only what is required is made (optional fields left out, arrays at
`minItems`, nullable values null, the cheapest `oneOf`/`anyOf` branch), and a branch that still
cannot end is abandoned for the next (`Infinite`). Where construction alone cannot guarantee a
valid value (`oneOf` branches that overlap, `not`, conflicting `allOf` parts, provider values),
the value is checked with the contract's own validator and remade, then replaced by a fallback.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import math
import random
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from jsonschema import FormatChecker

from harness.core.errors import HarnessError
from harness.synth.errors import SynthError
from harness.synth.regex import PatternSampler, UnsupportedPattern

if TYPE_CHECKING:
    from faker import Faker

    from harness.contract import Contract

Builder = Callable[["Ctx"], Any]

DEPTH = 3  # containers deeper than this get only what their schema requires
HARD_DEPTH = 40  # this deep, a required chain is taken to be endless: try another branch
BUDGET = 2000  # fields per record; past it, everything is made minimal (keeps records small)
TRIES = 6  # remakes of a value the validator refused, before the fallbacks

NAME_PROVIDERS = {
    "first_name": "first_name",
    "firstname": "first_name",
    "given_name": "first_name",
    "last_name": "last_name",
    "lastname": "last_name",
    "family_name": "last_name",
    "full_name": "name",
    "name": "name",
    "username": "user_name",
    "user_name": "user_name",
    "email": "email",
    "phone": "phone_number",
    "phone_number": "phone_number",
    "mobile": "phone_number",
    "company": "company",
    "company_name": "company",
    "city": "city",
    "country": "country_code",
    "country_code": "country_code",
    "currency": "currency_code",
    "street": "street_address",
    "address": "street_address",
    "zip": "postcode",
    "postcode": "postcode",
    "postal_code": "postcode",
    "title": "sentence",
    "subject": "sentence",
    "description": "paragraph",
    "notes": "paragraph",
    "url": "url",
    "website": "url",
    "domain": "domain_name",
    "job_title": "job",
    "color": "color_name",
}
FORMAT_PROVIDERS = {
    "email": "email",
    "idn-email": "email",
    "uuid": "uuid4",
    "uri": "url",
    "url": "url",
    "iri": "url",
    "hostname": "domain_name",
    "idn-hostname": "domain_name",
    "ipv4": "ipv4",
    "ipv6": "ipv6",
    "uri-reference": "uri_path",
    "iri-reference": "uri_path",
    "password": "password",
}
INT_FORMATS = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint8": (0, 2**8 - 1),
    "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
}
EPOCH_FORMATS = {"unix-time", "unixtime", "timestamp", "unix-timestamp", "epoch", "date-time", "utc-millisec"}
EPOCH_NAMES = re.compile(r"(^|_)(created|updated|modified|timestamp|time|date)$|_at$|At$|^(created|updated)")
NUMERIC_STRING_FORMATS = {
    "decimal",
    "int32",
    "int64",
    "integer",
    "number",
    "double",
    "float",
    "decimal128",
    "big-decimal",
    "bigdecimal",
    "int",
    "long",
    "uint64",
    "money",
}
ANNOTATIONS = {
    "title",
    "description",
    "example",
    "examples",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
    "discriminator",
    "xml",
    "externalDocs",
    "$comment",
    "nullable",
    "$id",
    "$schema",
    "$anchor",
}
_FORMATS = FormatChecker()


class Infinite(HarnessError):
    """This branch cannot end here (a required cycle, or a `false` schema): take another."""


@dataclass
class Ctx:
    """What one record's builders share: the seeded Faker and the record's own timestamps."""

    fake: Faker
    index: int
    created: datetime
    updated: datetime
    window_start: datetime
    null_share: float
    ids: Callable[[str, int], str]
    sizes: dict[str, int]
    edge: float = 0.0
    updated_field: str | None = None  # the collection's updated-at field: it carries `updated`
    lenient: bool = False  # a schema no value satisfies (not an endless one) gets null, not Infinite
    rng: random.Random = field(init=False)
    depth: int = field(default=0, init=False)
    budget: int = field(default=BUDGET, init=False)

    def __post_init__(self) -> None:
        self.rng = self.fake.random
        self.depth, self.budget = 0, BUDGET

    @property
    def frontier(self) -> bool:
        """Past the depth bound or the size budget: make only what is required."""
        return self.depth >= DEPTH or self.budget <= 0


class Compiler:
    def __init__(
        self, contract: Contract, fake: Faker, relations: dict[str, str], updated_field: str | None
    ) -> None:
        self.contract = contract
        self.fake = fake
        self.relations = relations  # id prefix -> collection name
        self.updated_field = updated_field
        self._memo: dict[tuple[str, str | None], Builder] = {}
        self._refs: dict[tuple[str, str], tuple[Any, str]] = {}
        self._pending: dict[tuple[str, str | None], list[Builder]] = {}

    def _deref(self, node: Any, uri: str) -> tuple[Any, str]:
        """contract.deref, cached by (document, $ref): big specs follow the same refs 100,000s of times."""
        if not isinstance(node, dict) or not isinstance(node.get("$ref"), str):
            return node, uri
        key = (uri.partition("#")[0], node["$ref"])
        found = self._refs.get(key)
        if found is None:
            found = self._refs[key] = self.contract.deref(node, uri)
        return found

    @functools.cached_property
    def words(self) -> tuple[str, ...]:
        """The locale's word list, fetched once: Faker's word() rebuilds its choice set per call."""
        return tuple(self.fake.get_words_list())

    # -- entry and memo ---------------------------------------------------------------------------

    def compile(self, schema: Any, uri: str, name: str | None = None, *, variant: str = "") -> Builder:
        """A builder for the schema at `uri`; each (place, field name) is compiled once, so a
        recursive schema refers to itself instead of unrolling forever."""
        schema, uri = self._deref(schema, uri)
        if isinstance(schema, dict) and ("properties" in schema or schema.get("type") == "object"):
            name = None  # an object's fields are named by its own keys: compile it once, not per use
        key = (uri + variant, name)
        if not self._pending:  # a top-level call: distinct nested schemas may run deep
            with _deep_recursion():
                return self._compile_keyed(schema, uri, name, key)
        return self._compile_keyed(schema, uri, name, key)

    def _compile_keyed(self, schema: Any, uri: str, name: str | None, key: tuple[str, str | None]) -> Builder:
        done = self._memo.get(key)
        if done is not None:
            return done
        if key in self._pending:  # recursion: refer to the builder being made
            pending = self._pending[key]
            return lambda ctx: pending[0](ctx)
        cell: list[Builder] = []
        self._pending[key] = cell
        try:
            built = self._compile(schema, uri, name)
        finally:
            del self._pending[key]
        cell.append(built)
        self._memo[key] = built
        return built

    def _compile(self, schema: Any, uri: str, name: str | None) -> Builder:
        if schema is True or schema == {}:
            words = self.words
            return lambda ctx: ctx.rng.choice(words)
        if schema is False:
            return _impossible
        if not isinstance(schema, dict):
            return lambda ctx: None
        hint = schema.get("x-faker")
        if hint is not None:
            return self._faker_hint(hint, schema, uri, name)
        if "const" in schema:
            value = schema["const"]
            return lambda ctx: value
        if "allOf" in schema:
            return self._all_of(schema, uri, name)
        for key in ("oneOf", "anyOf"):
            if schema.get(key):
                return self._choice(schema, key, uri, name)
        if "not" in schema:
            return self._not(schema, uri, name)
        if _base_discriminator(schema):
            return self._tagged_base(schema, uri, name)
        return self._typed(schema, uri, name)

    def _tagged_base(self, schema: dict[str, Any], uri: str, name: str | None) -> Builder:
        """A base schema whose `discriminator` maps values to schemas that extend it by `allOf`
        (Twitter's `Problem`: `type` is `about:blank` or one of 18 problem URLs), without a
        oneOf: its property takes a mapped value, the schema's own where it is a mapping's
        target, else one of those whose target adds no property of its own (a client reading
        the value by its target's schema finds nothing missing), else any."""
        disc = schema["discriminator"]
        prop, mapping = str(disc["propertyName"]), disc["mapping"]
        build = self.compile(
            {k: v for k, v in schema.items() if k != "discriminator"}, uri, name, variant="~disc"
        )
        own = [
            str(k)
            for k, target in mapping.items()
            if str(target).rpartition("/")[2] == uri.rpartition("/")[2]
        ]
        known = set((schema.get("properties") or {}).keys())
        plain = []
        for key, target in mapping.items():
            if not isinstance(target, str):
                continue
            try:
                resolved, target_uri = self._deref({"$ref": target}, uri)
                flat = self._flatten(resolved, target_uri)[0] if isinstance(resolved, dict) else {}
            except Exception:  # a mapping that points nowhere: not a value to send
                continue
            if set(flat.get("properties") or {}) <= known | {prop}:
                plain.append(str(key))
        values = own or plain or [str(k) for k in mapping]
        allowed = self._deref((schema.get("properties") or {}).get(prop, {}), uri)[0]
        if isinstance(allowed, dict) and isinstance(allowed.get("enum"), list):
            values = [v for v in values if v in allowed["enum"]]
        if not values:
            return build

        def tagged(ctx: Ctx) -> Any:
            out = build(ctx)
            if isinstance(out, dict):
                out[prop] = values[0] if len(values) == 1 else ctx.rng.choice(values)
            return out

        return tagged

    def _check(self, build: Builder, uri: str, fallbacks: list[Builder]) -> Builder:
        """Remake a value the contract's validator refuses; then try the fallbacks in turn."""
        holder: list[Any] = []

        def ok(value: Any) -> bool:
            if not holder:
                try:
                    holder.append(self.contract.validator(uri))
                except Exception:  # a place no validator can be made for
                    holder.append(None)
            if holder[0] is None:
                return True
            try:
                return bool(holder[0].is_valid(value))
            except Exception:  # the validator cannot judge it; keep the value
                return True

        # Last, the same values made minimal (only what is required): e.g. oneOf branches that
        # differ only in `required` all match a value with every optional field.
        fallbacks = [*fallbacks, *(_minimal(f) for f in [build, *fallbacks])]

        def checked(ctx: Ctx) -> Any:
            depth = ctx.depth
            value: Any = None
            made = False
            for maker in [build] * TRIES + fallbacks:
                try:
                    value = maker(ctx)
                except Infinite:
                    ctx.depth = depth
                    continue
                made = True
                if ok(value):
                    return value
            if not made:
                raise Infinite
            return value

        return checked

    # -- composition ------------------------------------------------------------------------------

    def _all_of(self, schema: dict[str, Any], uri: str, name: str | None) -> Builder:
        merged, exact = self._flatten(schema, uri)
        build = self.compile(merged, uri, name, variant="~allOf")
        return build if exact else self._check(build, uri, [])

    def _flatten(self, schema: dict[str, Any], uri: str, depth: int = 0) -> tuple[dict[str, Any], bool]:
        """allOf parts merged into one schema; sub-schemas stay `$ref`s to where they are written.
        Not exact when parts disagree on a keyword that cannot be combined."""
        merged: dict[str, Any] = {}
        exact = True
        parts = [({k: v for k, v in schema.items() if k != "allOf"}, uri)]
        for index, part in enumerate(schema.get("allOf") or []):
            parts.append(self._deref(part, f"{uri}/allOf/{index}"))
        for part, part_uri in parts:
            if not isinstance(part, dict):
                if part is False:
                    merged["not"] = {}
                continue
            if "allOf" in part and part_uri != uri and depth < 20:
                part, inner_exact = self._flatten(part, part_uri, depth + 1)
                exact = exact and inner_exact
                merged, ok = _merge(merged, part, None)
            else:
                merged, ok = _merge(merged, part, part_uri)
            exact = exact and ok
        return merged, exact

    def _choice(self, schema: dict[str, Any], key: str, uri: str, name: str | None) -> Builder:
        """oneOf/anyOf: a random branch (with the schema's other keywords merged in); past the
        depth bound the cheapest branch first. oneOf is checked unless its branches cannot overlap."""
        rest = {k: v for k, v in schema.items() if k != key}
        siblings = {k: v for k, v in rest.items() if k not in ANNOTATIONS}
        disc = schema.get("discriminator") if isinstance(schema.get("discriminator"), dict) else None
        builders: list[Builder] = []
        costs: list[int] = []
        kinds: list[set[str] | None] = []
        props: list[dict[str, Any]] = []  # each branch's properties, resolved: to tell branches apart
        null = False
        exact = True
        for index, branch in enumerate(schema[key]):
            branch_uri = f"{uri}/{key}/{index}"
            resolved, resolved_uri = self._deref(branch, branch_uri)
            if isinstance(resolved, dict) and resolved.get("type") == "null" and len(resolved) <= 3:
                null = True
                kinds.append({"null"})
                continue
            if siblings:
                base = _merge({}, siblings, uri)[0]  # the node's own keywords, at their own places
                if isinstance(resolved, dict) and "allOf" in resolved:
                    part, part_exact = self._flatten(resolved, resolved_uri)
                    merged, ok = _merge(base, part, None)
                    ok = ok and part_exact
                else:
                    merged, ok = _merge(base, resolved if isinstance(resolved, dict) else {}, resolved_uri)
                exact = exact and ok
                build = self.compile(merged, branch_uri, name, variant=f"~{key}")
            else:
                build = self.compile(branch, branch_uri, name)
            if disc and disc.get("propertyName") and not self._fixed(resolved, resolved_uri, disc):
                build = _discriminated(build, disc["propertyName"], _mapped(disc, branch, resolved_uri))
            builders.append(build)
            costs.append(_cost(resolved))
            kinds.append(_kinds(resolved))
            props.append(self._properties(resolved, resolved_uri))
        if not builders:
            return lambda ctx: None
        order = sorted(range(len(builders)), key=lambda i: costs[i])
        cheapest = [builders[i] for i in order]

        def choose(ctx: Ctx) -> Any:
            if null and (ctx.frontier or ctx.rng.random() < ctx.null_share):
                return None
            depth = ctx.depth
            first = cheapest[0] if ctx.frontier else ctx.rng.choice(builders)
            try:
                return first(ctx)
            except Infinite:
                ctx.depth = depth
            for other in cheapest:
                if other is first:
                    continue
                try:
                    return other(ctx)
                except Infinite:
                    ctx.depth = depth
            if null or ctx.lenient:
                return None
            raise Infinite

        known = [k for k in kinds if k is not None]
        disjoint = len(known) == len(kinds) and sum(len(k) for k in known) == len(set[str]().union(*known))
        if exact and (key == "anyOf" or disjoint):
            return choose
        separated = [_separated(build, i, props) for i, build in enumerate(builders)]
        return self._check(choose, uri, [*cheapest, *separated])

    def _fixed(self, branch: Any, uri: str, disc: dict[str, Any]) -> bool:
        """Whether a branch fixes its discriminator property itself (an `enum` or `const`, as
        Spotify's `TrackObject.type: enum [track]` does while the discriminator has no mapping):
        then the branch's own value stands, not the schema's name."""
        if disc.get("mapping") or not isinstance(branch, dict):
            return False
        if "allOf" in branch:
            branch = self._flatten(branch, uri)[0]
        sub = (branch.get("properties") or {}).get(disc["propertyName"])
        if sub is None:
            return False
        resolved = self._deref(sub, uri)[0]
        if isinstance(resolved, dict) and "allOf" in resolved:
            resolved = self._flatten(resolved, uri)[0]
        return isinstance(resolved, dict) and ("enum" in resolved or "const" in resolved)

    def _properties(self, schema: Any, uri: str) -> dict[str, Any]:
        """A branch's properties with their schemas resolved one level (their `type`, `enum`)."""
        if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
            return {}
        out = {}
        for prop, sub in schema["properties"].items():
            out[prop] = self._deref(sub, f"{uri}/properties/{prop}")[0]
        return out

    def _not(self, schema: dict[str, Any], uri: str, name: str | None) -> Builder:
        rest = {k: v for k, v in schema.items() if k != "not"}
        words = self.words
        candidates: list[Builder] = [
            lambda ctx: ctx.rng.choice(words),
            lambda ctx: ctx.rng.randint(0, 1000),
            lambda ctx: {},
            lambda ctx: [],
            lambda ctx: True,
            lambda ctx: None,
        ]
        build = self.compile(rest, uri, name, variant="~not") if set(rest) - ANNOTATIONS else candidates[0]
        return self._check(build, uri, candidates)

    # -- types ------------------------------------------------------------------------------------

    def _typed(self, schema: dict[str, Any], uri: str, name: str | None) -> Builder:
        kinds = schema.get("type")
        if kinds == []:  # allOf parts (or a branch and its siblings) that share no type
            return _impossible
        kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
        if not kinds:
            kinds = _infer_kinds(schema)
        if "enum" in schema:
            return self._enum(schema, kinds, uri)
        nullable = "null" in kinds
        kinds = [k for k in kinds if k != "null"]
        if not kinds:
            return lambda ctx: None
        if "integer" in kinds and "number" in kinds:
            kinds.remove("number")
        built = [self._one_type(kind, schema, uri, name) for kind in kinds]
        build = built[0] if len(built) == 1 else (lambda ctx: ctx.rng.choice(built)(ctx))
        return _maybe_null(build) if nullable else build

    def _one_type(self, kind: str, schema: dict[str, Any], uri: str, name: str | None) -> Builder:
        makers = {
            "object": self._object,
            "array": self._array,
            "string": self._string,
            "integer": self._integer,
            "number": self._number,
            "boolean": self._boolean,
        }
        if kind not in makers:
            raise SynthError(_ptr(uri), f"unknown type {kind!r}", "use a JSON Schema type")
        return makers[kind](schema, uri, name)

    def _enum(self, schema: dict[str, Any], kinds: list[str], uri: str) -> Builder:
        allowed = set(kinds)
        values = [
            v
            for v in schema["enum"]
            if v is not None
            and (
                not allowed
                or _json_type(v) in allowed
                or (_json_type(v) == "integer" and "number" in allowed)
            )
        ]
        nullable = None in schema["enum"] and (not allowed or "null" in allowed)
        if not values:
            if nullable:
                return lambda ctx: None
            return _impossible  # no enum value has the schema's type: an optional field is left out

        def build(ctx: Ctx) -> Any:
            return ctx.rng.choice(values)

        return _maybe_null(build) if nullable else build

    def _object(self, schema: dict[str, Any], uri: str, name: str | None) -> Builder:
        props = schema.get("properties") or {}
        required = [r for r in dict.fromkeys(schema.get("required") or []) if isinstance(r, str)]
        fields: list[tuple[str, Builder, bool]] = []
        for key, value in props.items():
            sub_uri = f"{uri}/properties/{_esc(key)}"
            resolved = self._deref(value, sub_uri)[0]
            if key not in required and isinstance(resolved, dict) and resolved.get("writeOnly"):
                continue  # records are what the platform answers with: no write-only secrets
            if resolved is False or resolved == {"not": {}}:
                continue  # a property that must be absent (a writeOnly one in the answers' view)
            fields.append((key, self.compile(value, sub_uri, key), key in required))
        extra = schema.get("additionalProperties")
        closed = extra is False
        extra_builder = (
            self.compile(extra, f"{uri}/additionalProperties", None) if isinstance(extra, dict) else None
        )
        patterns: list[tuple[PatternSampler, Builder]] = []
        for pattern, sub in (schema.get("patternProperties") or {}).items():
            sampler = self._sampler(pattern, f"{uri}/patternProperties", 1, None)
            patterns.append((sampler, self.compile(sub, f"{uri}/patternProperties/{_esc(pattern)}", None)))
        words = self.words
        for key in required:  # required but not described: a value the rest of the schema allows
            if key in props:
                continue
            matching = [b for s, b in patterns if s.regex.search(key)]
            maker = matching[0] if matching else extra_builder or (lambda ctx: ctx.rng.choice(words))
            fields.append((key, maker, True))
        low = int(schema.get("minProperties", 0))
        high = schema.get("maxProperties")
        if high is not None and low > high:
            raise SynthError(_ptr(uri), f"minProperties {low} > maxProperties {high}", "fix the bounds")
        n_required = sum(1 for f in fields if f[2])
        if high is not None and n_required > high:
            raise SynthError(
                _ptr(uri), f"{n_required} required properties > maxProperties {high}", "fix maxProperties"
            )
        free_form = extra_builder is not None and not props
        key_maker = self._key_maker(schema.get("propertyNames"), uri)
        extras: list[tuple[Callable[[Ctx, int], str], Builder]] = []
        if patterns:
            extras += [(_pattern_key(s), b) for s, b in patterns]
        if extra_builder is not None:
            extras.append((key_maker, extra_builder))
        elif not closed and not patterns:
            extras.append((key_maker, lambda ctx: ctx.rng.choice(words)))
        required_fields = [(k, b) for k, b, r in fields if r]
        all_fields = [(k, b) for k, b, _ in fields]
        optional = {k for k, _, r in fields if not r}
        extra_share = 3 if free_form or (patterns and not props) else 0

        def build(ctx: Ctx) -> dict[str, Any]:
            depth = ctx.depth
            if depth >= HARD_DEPTH:
                raise Infinite
            ctx.depth = depth + 1
            frontier = ctx.frontier
            ctx.budget -= len(fields)
            out: dict[str, Any] = {}
            if frontier:
                for key, maker in required_fields:
                    out[key] = maker(ctx)
            else:
                try:
                    out = {key: maker(ctx) for key, maker in all_fields}
                except Infinite:  # an optional field that cannot end here: leave it out
                    ctx.depth = depth + 1
                    out = {}
                    for key, maker, req in fields:
                        if req:
                            out[key] = maker(ctx)
                            continue
                        try:
                            out[key] = maker(ctx)
                        except Infinite:
                            ctx.depth = depth + 1
            if high is not None and len(out) > high:
                for key in [k for k in out if k in optional][: len(out) - high]:
                    del out[key]
            wanted = low
            if extras and not frontier and extra_share:
                wanted = max(low, ctx.rng.randint(0, min(extra_share, high if high is not None else 3)))
            n = 0
            while len(out) < wanted and extras and n < wanted * 4 + 4:
                make_key, maker = extras[n % len(extras)]
                candidate = make_key(ctx, n)
                n += 1
                if candidate not in out:
                    out[candidate] = maker(ctx)
            ctx.depth = depth
            return out

        return build

    def _key_maker(self, names: Any, uri: str) -> Callable[[Ctx, int], str]:
        """Keys for free-form objects: a lower-case word, or a sample of `propertyNames.pattern`."""
        pattern = names.get("pattern") if isinstance(names, dict) else None
        if not pattern:
            return lambda ctx, n: f"{ctx.rng.choice(self.words)}_{n}"
        low = names.get("minLength", 1)
        high = names.get("maxLength")
        sampler = self._sampler(pattern, f"{uri}/propertyNames", low, high)

        def key(ctx: Ctx, n: int) -> str:
            word = re.sub(r"[^a-z0-9_]", "", ctx.rng.choice(self.words).lower())
            candidate = f"{word}_{n}"
            return candidate if sampler.ok(candidate) else sampler(ctx.rng)

        return key

    def _array(self, schema: dict[str, Any], uri: str, name: str | None) -> Builder:
        items = schema.get("items", {})
        prefix = schema.get("prefixItems")
        if not isinstance(prefix, list):
            prefix = []
        if isinstance(items, list):  # draft 4 tuple form, as some 3.0 documents write it
            prefix, items = items, schema.get("additionalItems", {})
        item = self.compile(items, f"{uri}/items", name)
        heads = [self.compile(p, f"{uri}/prefixItems/{i}", name) for i, p in enumerate(prefix)]
        contains = self.compile(schema["contains"], f"{uri}/contains", name) if "contains" in schema else None
        low = int(schema.get("minItems", 0))
        high = schema.get("maxItems")
        if high is not None and low > high:
            raise SynthError(_ptr(uri), f"minItems {low} > maxItems {high}", "fix the bounds")
        if contains is not None:
            low = max(low, int(schema.get("minContains", 1)))
        cap = low + 3 if high is None else min(int(high), low + 3)
        if items is False:
            cap = min(cap, len(heads))
        unique = bool(schema.get("uniqueItems", False))
        exact = contains is None

        def build(ctx: Ctx) -> list[Any]:
            depth = ctx.depth
            if depth >= HARD_DEPTH:
                raise Infinite
            count = low if ctx.frontier or _extreme(ctx) else ctx.rng.randint(low, max(low, cap))
            ctx.depth = depth + 1
            out: list[Any] = []
            try:
                if contains is not None and count:
                    out.append(contains(ctx))
                while len(out) < count:
                    out.append(heads[len(out)](ctx) if len(out) < len(heads) else item(ctx))
                if unique:
                    out = _unique(out)
                    tries = 0
                    while len(out) < low and tries < 20 + low * 4:
                        tries += 1
                        out = _unique([*out, item(ctx)])
            except Infinite:
                ctx.depth = depth
                if low:
                    raise
                return []
            ctx.budget -= len(out)
            ctx.depth = depth
            return out

        return build if exact else self._check(build, uri, [])

    def _string(self, schema: dict[str, Any], uri: str, name: str | None) -> Builder:
        pointer = _ptr(uri)
        low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
        if high is not None and low > high:
            raise SynthError(pointer, f"minLength {low} > maxLength {high}", "fix the bounds")
        fmt = schema.get("format")
        fmt = fmt.lower() if isinstance(fmt, str) else None
        pattern = schema.get("pattern")
        if isinstance(pattern, str) and pattern:
            return self._patterned(pattern, fmt, name, pointer, low, high)
        maker = self._formatted(fmt, schema, name) if fmt else None
        if maker is None and schema.get("contentEncoding") == "base64":
            maker = self._formatted("byte", schema, name)
        if maker is not None and fmt == "time":
            # RFC 3339 wants an offset (jsonschema-rs); `jsonschema`'s FormatChecker() wants none
            # (its draft 3 `time`): the one the contract's validator takes.
            pick = self._moment(name)
            return self._check(lambda ctx: pick(ctx).strftime("%H:%M:%S"), uri, [maker])
        if maker is not None:
            if low == 0 and high is None:
                return maker
            return _bounded_string(maker, fmt, low, high, self.words)
        provider = _name_provider(name)
        if provider:
            method = getattr(self.fake, provider)
            return _edgy(lambda ctx: _fit(str(method()), low, high), _edge_text(low, high))
        words = self.words
        return _edgy(lambda ctx: _fit(ctx.rng.choice(words), low, high), _edge_text(low, high))

    def _formatted(self, fmt: str, schema: dict[str, Any], name: str | None) -> Builder | None:
        """A maker for a string format; None for formats that are only a hint (a plain string)."""
        if fmt in ("date-time", "date", "time"):
            return self._time(fmt, name)
        if fmt in FORMAT_PROVIDERS:
            method = getattr(self.fake, FORMAT_PROVIDERS[fmt])
            return lambda ctx: str(method())
        if fmt in NUMERIC_STRING_FORMATS:
            whole = fmt in ("int32", "int64", "integer", "int", "long", "uint64")
            return (
                (lambda ctx: str(ctx.rng.randint(0, 100_000)))
                if whole
                else (lambda ctx: f"{ctx.rng.randint(0, 10_000)}.{ctx.rng.randint(0, 99):02d}")
            )
        if fmt == "byte":
            return lambda ctx: base64.b64encode(ctx.rng.randbytes(ctx.rng.randint(3, 18))).decode()
        if fmt == "duration":
            return lambda ctx: ctx.rng.choice(("P{}D", "PT{}H", "PT{}M", "P{}W")).format(
                ctx.rng.randint(1, 90)
            )
        if fmt == "uri-template":
            return lambda ctx: f"https://{self.fake.domain_name()}/{{id}}"
        if fmt == "json-pointer":
            return lambda ctx: f"/{ctx.rng.choice(self.words)}/{ctx.rng.randint(0, 9)}"
        if fmt == "relative-json-pointer":
            return lambda ctx: f"{ctx.rng.randint(0, 3)}/{ctx.rng.choice(self.words)}"
        if fmt == "regex":
            return lambda ctx: f"^{ctx.rng.choice(self.words)}$"
        if fmt == "color":
            return lambda ctx: self.fake.hex_color()
        return None

    def _patterned(
        self, pattern: str, fmt: str | None, name: str | None, pointer: str, low: int, high: int | None
    ) -> Builder:
        prefix = re.match(r"^\^?([A-Za-z]+[_-])", pattern)
        related = self.relations.get(prefix.group(1)) if prefix else None
        if related is not None:
            # With no records to point at, the id of record 0: valid by the schema, if dangling.
            return lambda ctx: ctx.ids(
                related, ctx.rng.randrange(ctx.sizes[related]) if ctx.sizes.get(related) else 0
            )
        accept = (lambda v: _FORMATS.conforms(v, fmt)) if fmt and fmt in _FORMATS.checkers else None
        sampler = self._sampler(pattern, pointer, low, high, accept)
        provider = _name_provider(name)
        method = getattr(self.fake, provider) if provider else None
        formatted = self._formatted(fmt, {}, name) if fmt else None

        def build(ctx: Ctx) -> str:
            if method is not None and sampler.ok(value := str(method())):
                return value
            if formatted is not None and sampler.ok(value := str(formatted(ctx))):
                return value
            return sampler(ctx.rng)

        if (sampler.low, sampler.high) == (low, high):
            return build

        def out_of_bounds(ctx: Ctx) -> str:
            """No string within the length bounds matches (see `_sampler`): an optional field is
            left out, and a required one, where nothing else will do, takes the pattern's value."""
            if not ctx.lenient:
                raise Infinite
            return build(ctx)

        return out_of_bounds

    def _sampler(
        self,
        pattern: str,
        pointer: str,
        low: int,
        high: int | None,
        accept: Callable[[str], bool] | None = None,
    ) -> PatternSampler:
        pointer = _ptr(pointer) if "#" in pointer else pointer
        try:
            sampler = PatternSampler(pattern, low, high, accept)
            if accept is not None and not sampler.satisfiable():  # the pattern wins over the format
                sampler = PatternSampler(pattern, low, high)
        except UnsupportedPattern as exc:
            raise SynthError(
                pointer, str(exc), "fix the pattern (JSON Schema patterns are ECMA-262)"
            ) from None
        if not sampler.satisfiable() and (low or high is not None):
            # No string within the bounds matches (Linode's label: `(?!..)` leaves two characters,
            # minLength is 3): the schema allows nothing, so the pattern wins over the length and
            # the record is still made, rather than the tenant refused (`_patterned` leaves such
            # a field out where it is optional).
            unbounded = PatternSampler(pattern)
            if unbounded.satisfiable():
                return unbounded
        if not sampler.satisfiable():
            raise SynthError(
                pointer,
                f"no string of {low} to {high if high is not None else 'any'} characters matches {pattern!r}",
                "fix the pattern or the length bounds, or add an x-faker hint",
            )
        return sampler

    def _moment(self, name: str | None) -> Callable[[Ctx], datetime]:
        def pick(ctx: Ctx) -> datetime:
            if name is not None and name == ctx.updated_field:
                return ctx.updated
            if name in ("created_at", "created", "createdAt"):
                return ctx.created
            if _extreme(ctx):  # the window's first second, or the record's own last change
                return ctx.rng.choice((ctx.window_start, ctx.updated))
            span = (ctx.updated - ctx.window_start).total_seconds()
            return ctx.window_start + timedelta(seconds=ctx.rng.uniform(0, max(span, 1.0)))

        return pick

    def _time(self, fmt: str, name: str | None) -> Builder:
        pick = self._moment(name)
        if fmt == "date":
            return lambda ctx: pick(ctx).date().isoformat()
        if fmt == "time":
            return lambda ctx: pick(ctx).strftime("%H:%M:%SZ")
        return lambda ctx: rfc3339(pick(ctx))

    def _integer(self, schema: dict[str, Any], uri: str, name: str | None) -> Builder:
        fmt = schema.get("format")
        low, high = _bounds(schema, uri, integer=True)
        step = schema.get("multipleOf")
        if isinstance(step, (int, float)) and step > 0:
            return self._multiple(low, high, step, uri, integer=True)
        build = _edgy(lambda ctx: ctx.rng.randint(low, high), lambda ctx: ctx.rng.choice((low, high)))
        if fmt in EPOCH_FORMATS or (fmt in (None, "int64", "int32") and name and EPOCH_NAMES.search(name)):
            pick = self._moment(name)
            unbounded = "maximum" not in schema and "exclusiveMaximum" not in schema
            millis = fmt == "utc-millisec" or (name or "").lower().endswith(("ms", "millis"))

            def epoch(ctx: Ctx) -> int:
                value = int(pick(ctx).timestamp() * (1000 if millis else 1))
                return value if low <= value and (value <= high or unbounded) else build(ctx)

            return epoch
        return build

    def _number(self, schema: dict[str, Any], uri: str, name: str | None) -> Builder:
        low, high = _bounds(schema, uri, integer=False)
        step = schema.get("multipleOf")
        if isinstance(step, (int, float)) and step > 0:
            return self._multiple(low, high, step, uri, integer=False)
        strict_low = "exclusiveMinimum" in schema
        strict_high = "exclusiveMaximum" in schema

        def inside(value: float) -> bool:
            return (value > low if strict_low else value >= low) and (
                value < high if strict_high else value <= high
            )

        def build(ctx: Ctx) -> float:
            value = round(ctx.rng.uniform(low, high), 2)
            if inside(value):
                return value
            return (low + high) / 2 if low != high else low

        def extreme(ctx: Ctx) -> float:
            value = ctx.rng.choice((low, high))
            return value if inside(value) else (low + high) / 2

        return _edgy(build, extreme)

    def _multiple(self, low: float, high: float, step: float, uri: str, integer: bool) -> Builder:
        first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
        if first > last:
            raise SynthError(_ptr(uri), f"no multiple of {step} lies in [{low}, {high}]", "fix the bounds")
        last = min(last, first + 10_000)
        digits = max(0, -math.floor(math.log10(step))) if step < 1 else 0

        def good(value: float) -> bool:
            if isinstance(step, float):
                quotient = value / step
                return int(quotient) == quotient and low <= value <= high
            return value % step == 0 and low <= value <= high

        def build(ctx: Ctx) -> float | int:
            value: float | int = 0
            for _ in range(8):
                k = ctx.rng.randint(first, last)
                value = k * step
                value = round(value) if integer or float(value).is_integer() else round(value, digits + 2)
                if good(value):
                    return value
            return round(first * step) if integer else first * step

        return build

    def _boolean(self, schema: dict[str, Any], uri: str, name: str | None) -> Builder:
        return lambda ctx: ctx.rng.random() < 0.5

    def _faker_hint(self, hint: Any, schema: dict[str, Any], uri: str, name: str | None) -> Builder:
        """The provider the contract names; a value it makes that breaks the schema is replaced."""
        pointer = _ptr(uri)
        if isinstance(hint, str):
            hint = {"provider": hint}
        provider = hint.get("provider") if isinstance(hint, dict) else None
        args = {k: v for k, v in hint.items() if k != "provider"} if isinstance(hint, dict) else {}
        try:
            method = getattr(self.fake, str(provider))
        except AttributeError:
            method = None
        if provider == "word" and not args:  # the commonest hint, and Faker's slowest way to pick a word
            words = self.words
            method = lambda: self.fake.random.choice(words)  # noqa: E731
        if not callable(method):
            raise SynthError(
                f"{pointer}/x-faker",
                f"Faker has no provider {provider!r}",
                "use a Faker provider name such as 'company' or 'word'",
            )
        rest = {k: v for k, v in schema.items() if k != "x-faker"}
        plain = self.compile(rest, uri, name, variant="~plain")
        high = schema.get("maxLength")
        if schema.get("type") == "string" and not {"pattern", "format", "enum"} & set(schema):
            low = schema.get("minLength", 0)
            return lambda ctx: _fit(str(method(**args)), low, high)
        holder: list[Any] = []

        def build(ctx: Ctx) -> Any:
            value = method(**args)
            if schema.get("type") == "string":
                value = str(value)
            if not holder:
                holder.append(self.contract.validator(uri))
            try:
                return value if holder[0].is_valid(value) else plain(ctx)
            except Exception:  # the validator cannot judge it
                return plain(ctx)

        return build


@contextlib.contextmanager
def _deep_recursion(limit: int = 20_000) -> Iterator[None]:
    """Compiling walks the schema graph depth-first; Python calls no longer use the C stack."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def rfc3339(moment: datetime) -> str:
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None, microsecond=0).isoformat() + "Z"  # strftime's result, 3x faster


# Text that breaks careless code: astral-plane letters, right-to-left scripts, a ZWJ emoji.
EDGE_TEXT = "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 שלום مرحبا 👩\u200d💻 Ωμέγα "  # noqa: RUF001 - hostile on purpose


def _impossible(ctx: Ctx) -> Any:
    if ctx.lenient:  # the record must exist: a null where the schema allows nothing
        return None
    raise Infinite


def _extreme(ctx: Ctx) -> bool:
    """In an edge dataset, whether this value goes to an extreme (never draws when edge is 0)."""
    return bool(ctx.edge) and ctx.rng.random() < ctx.edge


def _edgy(build: Builder, extreme: Builder) -> Builder:
    return lambda ctx: extreme(ctx) if _extreme(ctx) else build(ctx)


def _edge_text(low: int, high: int | None) -> Builder:
    """The longest string the schema allows (255 without a bound), in hostile characters."""
    length = max(low, high if high is not None else 255)
    text = (EDGE_TEXT * (length // len(EDGE_TEXT) + 1))[:length]
    if text and text[-1] == "\u200d":  # never end on a dangling joiner
        text = text[:-1] + "x"
    return lambda ctx: text


def _bounded_string(
    maker: Builder, fmt: str | None, low: int, high: int | None, words: tuple[str, ...]
) -> Builder:
    """A formatted string within length bounds: remade, then cut or padded where the format allows."""
    checked = fmt if fmt is not None and fmt in _FORMATS.checkers else None

    def build(ctx: Ctx) -> str:
        value = ""
        for _ in range(TRIES):
            value = maker(ctx)
            if low <= len(value) and (high is None or len(value) <= high):
                return value
        fitted = _fit(value, low, high)
        return fitted if checked is None or _FORMATS.conforms(fitted, checked) else value

    return build


def _maybe_null(build: Builder) -> Builder:
    def nullable(ctx: Ctx) -> Any:
        return None if ctx.rng.random() < ctx.null_share or ctx.depth >= DEPTH else build(ctx)

    return nullable


def _separated(build: Builder, index: int, props: list[dict[str, Any]]) -> Builder:
    """oneOf branches that overlap (every property optional, extra ones allowed) all match one
    value; this one makes branch `index` and gives each property that only another branch
    declares a value of the wrong type for it, so that exactly one branch still matches."""
    own = props[index]

    def separated(ctx: Ctx) -> Any:
        value = build(ctx)
        if not isinstance(value, dict):
            return value
        value = dict(value)
        for other, theirs in enumerate(props):
            if other == index:
                continue
            for prop, sub in theirs.items():
                if prop in own or prop in value:
                    continue
                wrong = _wrong_type(sub)
                if wrong is not _NO_VALUE:
                    value[prop] = wrong
                    break
        return value

    return separated


_NO_VALUE = object()


def _wrong_type(schema: Any) -> Any:
    """A value that `schema` refuses by its type alone, or _NO_VALUE when it has no type."""
    if not isinstance(schema, dict):
        return _NO_VALUE
    kinds = schema.get("type")
    kinds = {kinds} if isinstance(kinds, str) else set(kinds or [])
    if not kinds or schema.get("nullable") is True:
        return _NO_VALUE
    for candidate, accepted_by in ((0, {"integer", "number"}), ("0", {"string"}), ([], {"array"})):
        if not kinds & accepted_by:
            return candidate
    return _NO_VALUE


def _minimal(build: Builder) -> Builder:
    def minimal(ctx: Ctx) -> Any:
        depth, budget = ctx.depth, ctx.budget
        ctx.budget = 0
        try:
            return build(ctx)
        finally:
            ctx.depth, ctx.budget = depth, budget

    return minimal


def _base_discriminator(schema: dict[str, Any]) -> bool:
    """A discriminator with a mapping on a schema that has no oneOf/anyOf to choose from."""
    disc = schema.get("discriminator")
    return (
        isinstance(disc, dict)
        and isinstance(disc.get("propertyName"), str)
        and isinstance(disc.get("mapping"), dict)
        and bool(disc["mapping"])
        and not schema.get("oneOf")
        and not schema.get("anyOf")
    )


def _discriminated(build: Builder, prop: str, value: str) -> Builder:
    def tagged(ctx: Ctx) -> Any:
        out = build(ctx)
        if isinstance(out, dict):
            out[prop] = value
        return out

    return tagged


def _mapped(disc: dict[str, Any], branch: Any, resolved_uri: str) -> str:
    """The discriminator value naming this branch: its key in `mapping`, else its schema name."""
    ref = branch.get("$ref") if isinstance(branch, dict) else None
    target = resolved_uri.rpartition("/")[2]
    for key, mapped in (disc.get("mapping") or {}).items():
        if mapped in (ref, target) or str(mapped).rpartition("/")[2] == target:
            return str(key)
    return target


def _cost(schema: Any) -> int:
    """How big a branch's smallest value is likely to be: scalars first, then arrays, objects."""
    if not isinstance(schema, dict):
        return 5
    kinds = _kinds(schema) or set()
    if kinds & {"null", "boolean", "integer", "number"} or "enum" in schema or "const" in schema:
        return 0
    if "string" in kinds:
        return 1
    if "array" in kinds:
        return 2
    return 3 + len(schema.get("required") or [])


def _kinds(schema: Any) -> set[str] | None:
    if not isinstance(schema, dict) or not schema.get("type"):
        if (
            isinstance(schema, dict)
            and ("properties" in schema or "required" in schema)
            and not ({"oneOf", "anyOf", "allOf", "not"} & set(schema))
        ):
            return {"object"}
        return None
    kind = schema["type"]
    out = {kind} if isinstance(kind, str) else set(kind)
    if "integer" in out:
        out.add("number")
    return out


def _infer_kinds(schema: dict[str, Any]) -> list[str]:
    """The type a schema without `type` describes, from its keywords (none: any value, a word)."""
    if {
        "properties",
        "required",
        "additionalProperties",
        "patternProperties",
        "minProperties",
        "propertyNames",
    } & set(schema):
        return ["object"]
    if {"items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains"} & set(schema):
        return ["array"]
    if {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"} & set(schema):
        return ["number"]
    return ["string"]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _unique(values: list[Any]) -> list[Any]:
    seen: set[str] = set()
    out = []
    for value in values:
        if isinstance(value, (str, int, float, bool)) or value is None:  # the common case, cheaply
            key = f"{type(value).__name__}:{value!r}"
        else:
            key = json.dumps(value, sort_keys=True, default=str) + _json_type(value)
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out


def _name_provider(name: str | None) -> str | None:
    if not name:
        return None
    lowered = name.lower()
    return NAME_PROVIDERS.get(lowered) or NAME_PROVIDERS.get(lowered.rsplit("_", 1)[-1])


def _fit(value: str, low: int, high: int | None) -> str:
    if high is not None and len(value) > high:
        value = value[:high].rstrip() or value[:high]
    if len(value) < low:
        value = value + "x" * (low - len(value))
    return value


def _bounds(schema: dict[str, Any], uri: str, integer: bool) -> tuple[Any, Any]:
    """The closed range a number may take: minimum/maximum, both forms of exclusive bounds
    (3.1 numbers; 3.0 booleans, if a document was not loaded through the contract loader) and
    the integer format's own range; 0..10,000 where nothing bounds it."""
    lo: float | None = _num(schema.get("minimum"))
    hi: float | None = _num(schema.get("maximum"))
    ex_lo, ex_hi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    step = 1 if integer else 1e-6
    if ex_lo is True and lo is not None:
        lo = math.floor(lo) + 1 if integer else lo + step
    elif (ex_lo_num := _num(ex_lo)) is not None:
        bound = math.floor(ex_lo_num) + 1 if integer else ex_lo_num + max(step, abs(ex_lo_num) * 1e-9)
        lo = bound if lo is None else max(lo, bound)
    if ex_hi is True and hi is not None:
        hi = math.ceil(hi) - 1 if integer else hi - step
    elif (ex_hi_num := _num(ex_hi)) is not None:
        bound = math.ceil(ex_hi_num) - 1 if integer else ex_hi_num - max(step, abs(ex_hi_num) * 1e-9)
        hi = bound if hi is None else min(hi, bound)
    fmt = schema.get("format")
    if integer and fmt in INT_FORMATS:
        f_lo, f_hi = INT_FORMATS[fmt]
        lo = f_lo if lo is None else max(lo, f_lo)
        hi = f_hi if hi is None else min(hi, f_hi)
        if lo == f_lo and hi == f_hi:  # only the format bounds it: stay in the everyday range
            lo, hi = max(lo, 0), min(hi, 10_000)
    if lo is None:
        lo = 0 if hi is None else min(0, hi - 10_000)
    if hi is None:
        hi = max(lo + 10_000, 10_000) if lo >= 0 else max(lo + 10_000, 0)
    if integer:
        lo, hi = math.ceil(lo), math.floor(hi)
    if lo > hi:
        raise SynthError(_ptr(uri), f"minimum {lo} > maximum {hi}", "fix the bounds")
    return lo, hi


def _pattern_key(sampler: PatternSampler) -> Callable[[Ctx, int], str]:
    """A property name drawn from a patternProperties regex (the property's index is unused)."""
    return lambda ctx, n: sampler(ctx.rng)


def _num(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


_MERGE_MIN = {"minimum", "minLength", "minItems", "minProperties", "exclusiveMinimum", "minContains"}
_MERGE_MAX = {"maximum", "maxLength", "maxItems", "maxProperties", "exclusiveMaximum", "maxContains"}
_SUBSCHEMA = {"items", "additionalProperties", "propertyNames", "contains", "not", "unevaluatedProperties"}


def _merge(a: dict[str, Any], b: dict[str, Any], b_uri: str | None) -> tuple[dict[str, Any], bool]:
    """b merged into a. Sub-schemas of b become `$ref`s to where b writes them (so refs inside
    resolve and each keeps its own place); False when a keyword cannot be combined exactly."""
    out = dict(a)
    exact = True

    def ref(*tokens: str) -> Any:
        if b_uri is None:
            value: Any = b
            for token in tokens:
                value = value[token]
            return value
        return {"$ref": b_uri + "".join(f"/{_esc(t)}" for t in tokens)}

    for key, value in b.items():
        if key in ANNOTATIONS and key != "discriminator":
            out.setdefault(key, value)
        elif key == "properties" and isinstance(value, dict):
            props = dict(out.get("properties") or {})
            for prop in value:
                mine = ref("properties", prop)
                props[prop] = {"allOf": [props[prop], mine]} if prop in props else mine
            out["properties"] = props
        elif key == "patternProperties" and isinstance(value, dict):
            out["patternProperties"] = {
                **(out.get("patternProperties") or {}),
                **{p: ref("patternProperties", p) for p in value},
            }
        elif key == "required":
            out["required"] = list(dict.fromkeys([*out.get("required", []), *value]))
        elif key == "type":
            mine = {value} if isinstance(value, str) else set(value)
            if "type" in out:
                theirs = {out["type"]} if isinstance(out["type"], str) else set(out["type"])
                both = mine & theirs
                if ("number" in mine and "integer" in theirs) or ("number" in theirs and "integer" in mine):
                    both.add("integer")
                out["type"] = sorted(both)  # [] when the parts share no type: no value at all
            else:
                out["type"] = sorted(mine) if not isinstance(value, str) else value
        elif key in _MERGE_MIN and key in out and _num(value) is not None:
            out[key] = max(out[key], value)
        elif key in _MERGE_MAX and key in out and _num(value) is not None:
            out[key] = min(out[key], value)
        elif key == "enum" and "enum" in out:
            out["enum"] = [v for v in out["enum"] if v in value]
        elif key == "additionalProperties" and value is False:
            out[key] = False
            exact = False  # properties of other parts may now be refused
        elif key in _SUBSCHEMA and isinstance(value, dict):
            mine = ref(key)
            out[key] = {"allOf": [out[key], mine]} if isinstance(out.get(key), dict) else mine
        elif key in ("oneOf", "anyOf") and isinstance(value, list):
            if key in out:  # two parts each with a oneOf: make the first, check the value
                exact = False
            else:
                out[key] = [ref(key, str(i)) for i in range(len(value))]
        elif key == "allOf":
            exact = False  # nested past the flattening bound
        elif key in out and out[key] != value:
            exact = False  # two patterns, formats, consts ...: keep the first, check the value
        else:
            out.setdefault(key, value)
    if isinstance(out.get("type"), list) and len(out["type"]) == 1:
        out["type"] = out["type"][0]
    return out, exact


def _ptr(uri: str) -> str:
    return uri.partition("#")[2]


def _esc(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")
