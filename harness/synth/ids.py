"""Record ids that are a bijection of the record index: `con_` + 16 base-62 characters.

Ids come from the id field's `pattern` (`^con_[0-9A-Za-z]{16}$` → prefix `con_`, alphabet of 62,
length 16), so ids look like production ids, never repeat, and map back to their index without
a lookup table: a million-record tenant needs no memory for its ids.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import string
from dataclasses import dataclass

_SIMPLE = re.compile(r"^\^?(?P<prefix>[A-Za-z0-9_\-]*)\[(?P<klass>[^\]]+)\]\{(?P<n>\d+)\}\$?$")
_CLASSES = {
    "0-9": string.digits,
    "a-z": string.ascii_lowercase,
    "A-Z": string.ascii_uppercase,
    "a-f": "abcdef",
    "A-F": "ABCDEF",
}


@dataclass(frozen=True)
class IdCodec:
    prefix: str
    alphabet: str
    length: int
    multiplier: int
    offset: int

    @functools.cached_property
    def capacity(self) -> int:
        return len(self.alphabet) ** self.length

    def encode(self, index: int) -> str:
        x = (index * self.multiplier + self.offset) % self.capacity
        pairs, base2 = _pairs(self.alphabet)
        chunks = [""] * (self.length // 2)
        for at in range(len(chunks) - 1, -1, -1):
            x, r = divmod(x, base2)
            chunks[at] = pairs[r]
        if self.length % 2:
            return self.prefix + self.alphabet[x % len(self.alphabet)] + "".join(chunks)
        return self.prefix + "".join(chunks)

    def decode(self, value: object) -> int | None:
        value = str(value)
        if not value.startswith(self.prefix) or len(value) != len(self.prefix) + self.length:
            return None
        x = 0
        base = len(self.alphabet)
        for ch in value[len(self.prefix) :]:
            digit = self.alphabet.find(ch)
            if digit < 0:
                return None
            x = x * base + digit
        return ((x - self.offset) * pow(self.multiplier, -1, self.capacity)) % self.capacity


@dataclass(frozen=True)
class IntCodec:
    """Integer ids: index + first (the schema's minimum, else 1)."""

    first: int = 1
    last: int | None = None
    prefix: str = ""

    @property
    def capacity(self) -> int:
        return (self.last - self.first + 1) if self.last is not None else 2**62

    def encode(self, index: int) -> int:
        return self.first + index

    def decode(self, value: object) -> int | None:
        if isinstance(value, bool):
            return None
        try:
            number = int(str(value))
        except ValueError:
            return None
        return number - self.first if number >= self.first else None


@dataclass(frozen=True)
class DigitsCodec:
    """String ids of decimal digits, for patterns no `prefix[class]{n}` codec reads but that
    accept a plain number (HubSpot's `^[1-9][0-9]{0,11}$`, `^\\d+$`): index + 1, as text."""

    digits: int  # the most digits the pattern accepts
    prefix: str = ""

    @property
    def capacity(self) -> int:
        return 10**self.digits - 1

    def encode(self, index: int) -> str:
        return str(index + 1)

    def decode(self, value: object) -> int | None:
        text = str(value)
        return int(text) - 1 if short_digits(text) and not text.startswith("0") else None


def digits_codec(pattern: str) -> DigitsCodec | None:
    """A DigitsCodec when the pattern accepts 1, 2, ... as text (JSON Schema patterns search)."""
    try:
        compiled = re.compile(pattern)
    except re.error:
        return None
    most = 0
    for digits in range(1, 19):
        if not compiled.search("1" + "0" * (digits - 1)) or not compiled.search("9" * digits):
            break
        most = digits
    return DigitsCodec(most) if most else None


@dataclass(frozen=True)
class UuidCodec:
    """uuid ids: a seeded version-4 uuid whose last 12 hex digits carry the (mixed) index."""

    head: str  # the first 19 characters, "xxxxxxxx-xxxx-4xxx-"
    multiplier: int
    offset: int
    prefix: str = ""

    @property
    def capacity(self) -> int:
        return 2**60  # the variant nibble takes 2 bits of the 64 left

    def encode(self, index: int) -> str:
        x = (index * self.multiplier + self.offset) % self.capacity
        tail = f"{(8 << 60) | x:016x}"
        return f"{self.head}{tail[:4]}-{tail[4:]}"

    def decode(self, value: object) -> int | None:
        text = str(value).lower()
        if len(text) != 36 or not text.startswith(self.head):
            return None
        try:
            x = int(text[19:23] + text[24:], 16) & ((1 << 60) - 1)
        except ValueError:
            return None
        return ((x - self.offset) * pow(self.multiplier, -1, self.capacity)) % self.capacity


@dataclass(frozen=True)
class NumericLookingCodec:
    """String ids a connector may mistake for numbers, where the schema permits them (no
    pattern, format or enum): in each block of four records, two take the usual text id, one
    is all digits (`"42"`) and one is the same number with leading zeros (`"00042"`). A
    connector that stores ids as integers merges those two records, or changes both ids.
    Which place in the block takes which form is drawn from the seed."""

    base: IdCodec | None  # the text ids of the other records; None: `<col>_<n>`
    collection: str
    offset: int  # 0..3, from the seed
    most: int | None = None  # the most characters the schema allows
    prefix: str = ""  # digit ids carry no prefix: no field pattern can point at them

    @property
    def capacity(self) -> int:
        room = self.base.capacity if self.base is not None else 2**62
        if self.most is not None:  # the padded form takes one character more than the number
            room = min(room, 4 * (10 ** (self.most - 1) - 1))
        return room

    def encode(self, index: int) -> str:
        place, number = (index + self.offset) % 4, index // 4 + 1
        if place == 2:
            return str(number)
        if place == 3:
            return "0" + str(number).zfill(4)
        return self.base.encode(index) if self.base is not None else f"{self.collection[:3]}_{index + 1}"

    def decode(self, value: object) -> int | None:
        if not isinstance(value, str):  # the number 42 is not the id "42"
            return None
        text = value
        if short_digits(text):
            number = int(text)
            place = 3 if text.startswith("0") else 2
            if number < 1 or (place == 3 and text != "0" + str(number).zfill(4)):
                return None
            return (number - 1) * 4 + (place - self.offset) % 4
        if self.base is not None:
            index = self.base.decode(text)
        else:
            head, _, tail = text.rpartition("_")
            ok = head == self.collection[:3] and short_digits(tail) and not tail.startswith("0")
            index = int(tail) - 1 if ok else None
        return index if index is not None and (index + self.offset) % 4 < 2 else None


Codec = IdCodec | IntCodec | UuidCodec | DigitsCodec | NumericLookingCodec
MOST_DIGITS = 40  # more than any index has (capacities stay under 2**62, 19 digits)


def short_digits(text: str) -> bool:
    """Whether `text` is ASCII digits short enough to be an index: a longer number names no
    record, and `int()` refuses past 4,300 digits (a ValueError, so a 500 for an id of 5,000
    digits schemathesis sent Stripe)."""
    return len(text) <= MOST_DIGITS and text.isdigit() and text.isascii()


SIZED_LENGTH = 16  # characters of an id whose schema bounds only its length


def codec_for_schema(
    schema: dict[str, object], seed: int, collection: str, *, adversarial: bool = False
) -> Codec | None:
    """The codec for an id field's schema: integers, uuids, `prefix[class]{n}` patterns, strings
    with length bounds; None for any other string (the dataset then uses `<col>_<n>`).
    `adversarial`: string ids that permit digits are partly numeric-looking (NumericLookingCodec)."""
    found = _codec_for_schema(schema, seed, collection)
    # only beside text ids that can never be all digits (a prefix with a letter in it)
    text_ids = found is None or (isinstance(found, IdCodec) and found.prefix and not found.prefix.isdigit())
    if adversarial and text_ids and _permits_digits(schema):
        high = schema.get("maxLength")
        most = high if isinstance(high, int) and not isinstance(high, bool) else None
        if most is None or most >= 5:  # room for "00001"
            offset = _hash(f"{seed}:{collection}:ids:numeric") % 4
            return NumericLookingCodec(
                found if isinstance(found, IdCodec) else None, collection, offset, most
            )
    return found


def _permits_digits(schema: dict[str, object]) -> bool:
    """A string id schema with nothing that forbids `"1"` or `"00001"`: no pattern, format,
    enum or const, a minLength of at most 1."""
    kind = schema.get("type")
    kinds = {kind} if isinstance(kind, str) else set(kind) if isinstance(kind, list) else set()
    low = schema.get("minLength", 0)
    return (
        kinds == {"string"}
        and not {"pattern", "format", "enum", "const"} & set(schema)
        and isinstance(low, int)
        and low <= 1
    )


def _codec_for_schema(schema: dict[str, object], seed: int, collection: str) -> Codec | None:
    kind = schema.get("type")
    kinds = {kind} if isinstance(kind, str) else set(kind) if isinstance(kind, list) else set()
    if kinds & {"integer", "number"} and "string" not in kinds:
        low = schema.get("minimum")
        first = int(low) if isinstance(low, (int, float)) and not isinstance(low, bool) and low > 1 else 1
        high = schema.get("maximum")
        last = int(high) if isinstance(high, (int, float)) and not isinstance(high, bool) else None
        return IntCodec(first, last)
    if schema.get("format") == "uuid" and not schema.get("pattern"):
        mix = _hash(f"{seed}:{collection}:uuid")
        raw = f"{mix:064x}"
        head = f"{raw[:8]}-{raw[8:12]}-4{raw[12:15]}-"
        multiplier = (mix >> 100) % 2**60 | 1
        return UuidCodec(head, multiplier, (mix >> 40) % 2**60)
    pattern = schema.get("pattern")
    if not pattern and ("minLength" in schema or "maxLength" in schema):
        return _sized(schema, seed, collection)
    simple = codec_for(pattern if isinstance(pattern, str) else None, seed, collection)
    if simple is None and isinstance(pattern, str):
        return digits_codec(pattern)
    return simple


def _sized(schema: dict[str, object], seed: int, collection: str) -> IdCodec | None:
    """Ids of the length the schema allows (SendGrid's lists: exactly 36 characters): the
    collection's `abc_` prefix where it fits, then base-36 characters."""
    low, high = schema.get("minLength"), schema.get("maxLength")
    low = low if isinstance(low, int) and not isinstance(low, bool) else 0
    high = high if isinstance(high, int) and not isinstance(high, bool) else None
    if high is not None and (high < low or high < 4):
        return None
    prefix = re.sub(r"[^A-Za-z0-9]", "", collection)[:3].lower() + "_"
    length = max(low, SIZED_LENGTH)
    if high is not None:
        length = min(length, high)
    if length - len(prefix) < 8:
        prefix = ""
    return codec_for(f"^{prefix}[0-9a-z]{{{length - len(prefix)}}}$", seed, collection)


def codec_for(pattern: str | None, seed: int, collection: str) -> IdCodec | None:
    """An id codec for simple id patterns; None when the pattern is not `prefix[class]{n}`."""
    found = _SIMPLE.match(pattern or "")
    if not found:
        return None
    alphabet = _alphabet(found["klass"])
    if not alphabet:
        return None
    length = int(found["n"])
    capacity = len(alphabet) ** length
    mix = _hash(f"{seed}:{collection}:ids:multiplier")
    multiplier = mix % capacity | 1
    while math.gcd(multiplier, capacity) != 1:
        multiplier = (multiplier + 2) % capacity or 1
    offset = _hash(f"{seed}:{collection}:ids:offset") % capacity
    return IdCodec(found["prefix"], alphabet, length, multiplier, offset)


def _hash(text: str) -> int:
    """256 bits: enough to spread over the largest id space a pattern describes."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=32).digest(), "big")


@functools.cache
def _pairs(alphabet: str) -> tuple[list[str], int]:
    """Every two-character string of the alphabet, by value: encoding takes half the divisions."""
    return [a + b for a in alphabet for b in alphabet], len(alphabet) ** 2


def _alphabet(klass: str) -> str:
    out = ""
    rest = klass
    while rest:
        for span, chars in _CLASSES.items():
            if rest.startswith(span):
                out += chars
                rest = rest[len(span) :]
                break
        else:
            return ""
    return "".join(sorted(set(out)))
