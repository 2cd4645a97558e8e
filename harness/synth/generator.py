"""Compile a JSON Schema into a function that makes one valid value from a seeded Faker.

Compiling once per collection keeps per-record work to the Faker calls themselves. Field names
and formats choose providers (`first_name`, `email`, `date-time`); `x-faker` overrides them;
`enum`, `pattern`, bounds and nullability are honoured so every value validates.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from harness.synth.errors import SynthError
from harness.synth.regex import UnsupportedPattern, compile_pattern, sample

if TYPE_CHECKING:
    from faker import Faker

    from harness.contract import Contract

Builder = Callable[["Ctx"], Any]

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
    "uuid": "uuid4",
    "uri": "url",
    "url": "url",
    "hostname": "domain_name",
    "ipv4": "ipv4",
    "ipv6": "ipv6",
    "uri-reference": "uri_path",
}


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
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = self.fake.random


class Compiler:
    def __init__(
        self, contract: Contract, fake: Faker, relations: dict[str, str], updated_field: str | None
    ) -> None:
        self.contract = contract
        self.fake = fake
        self.relations = relations  # id prefix -> collection name
        self.updated_field = updated_field

    @functools.cached_property
    def words(self) -> tuple[str, ...]:
        """The locale's word list, fetched once: Faker's word() rebuilds its choice set per call."""
        return tuple(self.fake.get_words_list())

    def compile(self, schema: Any, uri: str, name: str | None = None) -> Builder:
        schema, uri = self.contract.deref(schema, uri)
        if not isinstance(schema, dict):
            return lambda ctx: None

        hint = schema.get("x-faker")
        if hint is not None:
            return self._faker_hint(hint, schema, uri, name)
        if "const" in schema:
            value = schema["const"]
            return lambda ctx: value
        for key in ("oneOf", "anyOf"):
            if key in schema:
                return self._choice(schema[key], f"{uri}/{key}", name)
        if "allOf" in schema:
            merged: dict[str, Any] = {}
            for index, part in enumerate(schema["allOf"]):
                resolved = self.contract.deref(part, f"{uri}/allOf/{index}")[0]
                merged = _merge(merged, resolved)
            rest = {k: v for k, v in schema.items() if k != "allOf"}
            return self._typed(_merge(merged, rest), uri, name)
        return self._typed(schema, uri, name)

    def _typed(self, schema: dict[str, Any], uri: str, name: str | None) -> Builder:
        kinds = schema.get("type")
        kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
        if not kinds:
            kinds = ["object"] if "properties" in schema else ["string"] if "pattern" in schema else []
        if "enum" in schema:
            return self._enum(schema, uri)
        nullable = "null" in kinds
        kinds = [k for k in kinds if k != "null"]
        if not kinds:
            return lambda ctx: None
        build = self._one_type(kinds[0], schema, uri, name)
        if nullable:
            return _maybe_null(build)
        return build

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
            raise SynthError(uri.partition("#")[2], f"unknown type {kind!r}", "use a JSON Schema type")
        return makers[kind](schema, uri, name)

    def _enum(self, schema: dict[str, Any], uri: str) -> Builder:
        values = [v for v in schema["enum"] if v is not None]
        nullable = None in schema["enum"]
        if not values:
            return lambda ctx: None

        def build(ctx: Ctx) -> Any:
            return ctx.rng.choice(values)

        return _maybe_null(build) if nullable else build

    def _choice(self, branches: list[Any], uri: str, name: str | None) -> Builder:
        compiled, null = [], False
        for index, branch in enumerate(branches):
            resolved = self.contract.deref(branch, f"{uri}/{index}")[0]
            if isinstance(resolved, dict) and resolved.get("type") == "null":
                null = True
                continue
            compiled.append(self.compile(branch, f"{uri}/{index}", name))
        first = compiled[0] if compiled else (lambda ctx: None)
        return _maybe_null(first) if null else first

    def _object(self, schema: dict[str, Any], uri: str, name: str | None) -> Builder:
        props = schema.get("properties") or {}
        fields = [
            (key, self.compile(value, f"{uri}/properties/{_esc(key)}", key)) for key, value in props.items()
        ]
        extra = schema.get("additionalProperties")
        extra_builder = (
            self.compile(extra, f"{uri}/additionalProperties", None)
            if isinstance(extra, dict) and not props
            else None
        )
        limit = schema.get("maxProperties", 3)
        key = self._key_maker(schema.get("propertyNames"), uri)

        def build(ctx: Ctx) -> dict[str, Any]:
            out = {name: maker(ctx) for name, maker in fields}
            if extra_builder is not None:
                for n in range(ctx.rng.randint(0, min(3, limit))):
                    out[key(ctx, n)] = extra_builder(ctx)
            return out

        return build

    def _key_maker(self, names: Any, uri: str) -> Callable[[Ctx, int], str]:
        """Keys for free-form objects: a lower-case word, or a sample of `propertyNames.pattern`."""
        pattern = names.get("pattern") if isinstance(names, dict) else None
        if not pattern:
            return lambda ctx, n: f"{ctx.rng.choice(self.words)}_{n}"
        try:
            parsed = compile_pattern(pattern)
        except UnsupportedPattern as exc:
            raise SynthError(
                f"{uri.partition('#')[2]}/propertyNames", str(exc), "simplify the pattern"
            ) from None
        regex = re.compile(pattern)

        def key(ctx: Ctx, n: int) -> str:
            word = re.sub(r"[^a-z0-9_]", "", ctx.rng.choice(self.words).lower())
            candidate = f"{word}_{n}"
            return candidate if regex.search(candidate) else sample(parsed, ctx.rng)

        return key

    def _array(self, schema: dict[str, Any], uri: str, name: str | None) -> Builder:
        item = self.compile(schema.get("items", {}), f"{uri}/items", name)
        low = schema.get("minItems", 0)
        high = schema.get("maxItems", low + 3)
        if low > high:
            raise SynthError(uri.partition("#")[2], f"minItems {low} > maxItems {high}", "fix the bounds")
        high = min(high, low + 3)
        unique = schema.get("uniqueItems", False)

        def build(ctx: Ctx) -> list[Any]:
            count = low if _extreme(ctx) else ctx.rng.randint(low, high)
            out = [item(ctx) for _ in range(count)]
            if unique:
                seen: list[Any] = []
                for value in out:
                    if value not in seen:
                        seen.append(value)
                out = seen
            return out

        return build

    def _string(self, schema: dict[str, Any], uri: str, name: str | None) -> Builder:
        pointer = uri.partition("#")[2]
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        if high is not None and low > high:
            raise SynthError(pointer, f"minLength {low} > maxLength {high}", "fix the bounds")
        fmt = schema.get("format")
        if fmt in ("date-time", "date"):
            return self._time(fmt, name)
        pattern = schema.get("pattern")
        if pattern:
            return self._patterned(pattern, name, pointer, low, high)
        if fmt in FORMAT_PROVIDERS:  # a format must stay valid, even in an edge dataset
            formatted = getattr(self.fake, FORMAT_PROVIDERS[fmt])
            return lambda ctx: _fit(str(formatted()), low, high)
        provider = _name_provider(name)
        if provider:
            method = getattr(self.fake, provider)
            return _edgy(lambda ctx: _fit(str(method()), low, high), _edge_text(low, high))
        words = self.words
        return _edgy(lambda ctx: _fit(ctx.rng.choice(words), low, high), _edge_text(low, high))

    def _patterned(self, pattern: str, name: str | None, pointer: str, low: int, high: int | None) -> Builder:
        prefix = re.match(r"^\^?([A-Za-z]+[_-])", pattern)
        related = self.relations.get(prefix.group(1)) if prefix else None
        if related is not None:
            # With no records to point at, the id of record 0: valid by the schema, if dangling.
            return lambda ctx: ctx.ids(
                related, ctx.rng.randrange(ctx.sizes[related]) if ctx.sizes.get(related) else 0
            )
        try:
            parsed = compile_pattern(pattern)
        except UnsupportedPattern as exc:
            raise SynthError(pointer, str(exc), "simplify the pattern or add an x-faker hint") from None
        regex = re.compile(pattern)
        provider = _name_provider(name)
        method = getattr(self.fake, provider) if provider else None

        def build(ctx: Ctx) -> str:
            if method is not None:
                value = str(method())
                if regex.search(value):
                    return value
            return sample(parsed, ctx.rng)

        return build

    def _time(self, fmt: str, name: str | None) -> Builder:
        def pick(ctx: Ctx) -> datetime:
            if name is not None and name == self.updated_field:
                return ctx.updated
            if name in ("created_at", "created", "createdAt"):
                return ctx.created
            if _extreme(ctx):  # the window's first second, or the record's own last change
                return ctx.rng.choice((ctx.window_start, ctx.updated))
            span = (ctx.updated - ctx.window_start).total_seconds()
            return ctx.window_start + timedelta(seconds=ctx.rng.uniform(0, max(span, 1.0)))

        if fmt == "date":
            return lambda ctx: pick(ctx).date().isoformat()
        return lambda ctx: rfc3339(pick(ctx))

    def _integer(self, schema: dict[str, Any], uri: str, name: str | None) -> Builder:
        low, high = _bounds(schema, uri, 0, 10_000, integer=True)
        return _edgy(lambda ctx: ctx.rng.randint(low, high), lambda ctx: ctx.rng.choice((low, high)))

    def _number(self, schema: dict[str, Any], uri: str, name: str | None) -> Builder:
        low, high = _bounds(schema, uri, 0.0, 10_000.0, integer=False)
        return _edgy(
            lambda ctx: round(ctx.rng.uniform(low, high), 2) if high - low > 0.01 else low,
            lambda ctx: ctx.rng.choice((low, high)),
        )

    def _boolean(self, schema: dict[str, Any], uri: str, name: str | None) -> Builder:
        return lambda ctx: ctx.rng.random() < 0.5

    def _faker_hint(self, hint: Any, schema: dict[str, Any], uri: str, name: str | None) -> Builder:
        """The provider the contract names; a value it makes that breaks the schema is replaced."""
        pointer = uri.partition("#")[2]
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
        high = schema.get("maxLength")
        if schema.get("type") == "string" or high is not None:
            low = schema.get("minLength", 0)
            return lambda ctx: _fit(str(method(**args)), low, high)
        plain = self._typed({k: v for k, v in schema.items() if k != "x-faker"}, uri, name)
        validator = self.contract.validator(uri)

        def build(ctx: Ctx) -> Any:
            value = method(**args)
            return value if validator.is_valid(value) else plain(ctx)

        return build


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Text that breaks careless code: astral-plane letters, right-to-left scripts, a ZWJ emoji.
EDGE_TEXT = "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 שלום مرحبا 👩\u200d💻 Ωμέγα "  # noqa: RUF001 - hostile on purpose


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


def _maybe_null(build: Builder) -> Builder:
    def nullable(ctx: Ctx) -> Any:
        return None if ctx.rng.random() < ctx.null_share else build(ctx)

    return nullable


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


def _bounds(schema: dict[str, Any], uri: str, low: Any, high: Any, integer: bool) -> tuple[Any, Any]:
    lo = schema.get("minimum", low if "maximum" not in schema else min(low, schema["maximum"]))
    hi = schema.get("maximum", max(high, lo))
    if "exclusiveMinimum" in schema:
        lo = schema["exclusiveMinimum"] + (1 if integer else 1e-6)
    if "exclusiveMaximum" in schema:
        hi = schema["exclusiveMaximum"] - (1 if integer else 1e-6)
    if lo > hi:
        raise SynthError(uri.partition("#")[2], f"minimum {lo} > maximum {hi}", "fix the bounds")
    if integer:
        hi = min(hi, lo + 1_000_000) if "maximum" not in schema else hi
        return int(lo), int(hi)
    return lo, hi


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        if key == "properties":
            out["properties"] = {**a.get("properties", {}), **value}
        elif key == "required":
            out["required"] = [*a.get("required", []), *value]
        else:
            out[key] = value
    return out


def _esc(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")
