"""Canaries in the platform's own shapes: values planted in undeclared fields (DATA-01) that a
connector cannot tell from the platform's data, so it cannot hide a leak by spotting them.

A canary is a fresh pronounceable word drawn from the check's seed, written in the format of
the field it goes in (plain text, an email, a hostname or a URI), on the domain the platform's
own value of that field uses. It is looked for case-insensitively, and never shown in a message.
"""

from __future__ import annotations

import random
import re
from typing import Any
from urllib.parse import urlsplit

from harness.contract import Contract
from harness.contract.schema import schema_type

CONSONANTS = "bdfgklmnprstvz"
VOWELS = "aeiou"
SYLLABLES = 5  # 14 x 5 choices, 5 times: about 2^30 words of 10 letters
CANARY_KEY = "note"  # a key for free-form objects (custom fields)
DOMAIN = "example.com"  # when the platform's own value says no domain
FORMATS = ("email", "hostname", "uri")  # string formats a canary can take, besides plain text


def draw_word(rng: random.Random, taken: set[str] | None = None) -> str:
    """A lower-case pronounceable word (`tavorimeku`) not in `taken`, which it joins."""
    taken = taken if taken is not None else set()
    while True:
        word = "".join(rng.choice(CONSONANTS) + rng.choice(VOWELS) for _ in range(SYLLABLES))
        if word not in taken:
            taken.add(word)
            return word


def domain_of(value: Any) -> str:
    """The domain a platform value of the field uses: `jane@acme.io` -> `acme.io`."""
    if not isinstance(value, str) or not value:
        return DOMAIN
    if "@" in value:
        host = value.rpartition("@")[2]
    elif "://" in value:
        host = urlsplit(value).hostname or ""
    else:
        host = value.partition(".")[2]
    return host if re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", host or "") else DOMAIN


def in_format(word: str, fmt: str | None, sample: Any = None) -> str:
    """The canary word as a value of a string format, shaped like the platform's `sample`."""
    domain = domain_of(sample)
    if fmt == "email":
        return f"{word}@{domain}"
    if fmt == "hostname":
        return f"{word}.{domain}"
    if fmt == "uri":
        scheme = urlsplit(sample).scheme if isinstance(sample, str) and "://" in sample else "https"
        return f"{scheme}://{domain}/{word}"
    return word.capitalize()


def canary_value(
    contract: Contract, prop: Any, uri: str, word: str, sample: Any = None, depth: int = 0
) -> Any:
    """A schema-valid value of the property that carries `word`, or None when it cannot."""
    prop, uri = contract.deref(prop, uri)
    if not isinstance(prop, dict) or depth > 2:
        return None
    for option in prop.get("oneOf") or prop.get("anyOf") or []:
        value = canary_value(contract, option, uri, word, sample, depth + 1)
        if value is not None:
            return value
    types = schema_type(prop)
    fmt = prop.get("format")
    if "string" in types and not {"enum", "const", "pattern"} & set(prop) and (fmt is None or fmt in FORMATS):
        value = in_format(word, fmt, sample)
        return value if len(value) <= prop.get("maxLength", len(value)) else None
    if "array" in types and prop.get("maxItems", 1) >= 1:
        first = sample[0] if isinstance(sample, list) and sample else None
        item = canary_value(contract, prop.get("items", {}), uri, word, first, depth + 1)
        return [item] if item is not None else None
    if (
        "object" in types
        and not prop.get("properties")
        and isinstance(prop.get("additionalProperties"), dict)
    ):
        pattern = prop.get("propertyNames", {}).get("pattern")
        if pattern and not re.search(pattern, CANARY_KEY):
            return None
        item = canary_value(contract, prop["additionalProperties"], uri, word, None, depth + 1)
        return {CANARY_KEY: item} if item is not None else None
    return None


def canary_fields(
    contract: Contract,
    stream: str,
    keep: set[str],
    base: dict[str, Any],
    rng: random.Random,
    taken: set[str],
) -> tuple[dict[str, Any], dict[str, str]]:
    """Schema-valid canary values for the fields of `stream` not in `keep`, and canary -> field.
    `base` is a platform record of the stream: its values give each field's shape."""
    col = contract.collections[stream]
    schema, uri = contract.deref(col.item_schema, col.item_schema_uri)
    fields: dict[str, Any] = {}
    planted: dict[str, str] = {}
    for name, prop in schema.get("properties", {}).items():
        if name in keep:
            continue
        word = draw_word(rng, taken)
        value = canary_value(contract, prop, uri, word, base.get(name))
        if value is not None:
            fields[name], planted[word] = value, name
    validator = contract.validator(col.item_schema_uri)
    for error in validator.iter_errors({**base, **fields}):  # drop any the schema refuses after all
        if error.absolute_path and error.absolute_path[0] in fields:
            fields.pop(error.absolute_path[0])
    return fields, {word: name for word, name in planted.items() if name in fields}


def found(canary: str, text: str) -> bool:
    """Is the canary in the text, in any case (a connector may lower- or upper-case what it logs)?"""
    return canary in text.lower()


def hide(text: str, canaries: Any, mask: str = "****") -> str:
    """The text with every canary masked: a report names where a canary went, never shows it."""
    for canary in canaries:
        text = re.sub(re.escape(canary), mask, text, flags=re.IGNORECASE)
    return text
