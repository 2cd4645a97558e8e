"""Sample strings that match a regular expression written in any dialect real contracts use.

JSON Schema says patterns are ECMA-262, but published specs also use Python/PCRE spellings
(`\\A`, `\\Z`, `\\z`, `(?<name>...)`, `\\p{L}`). A pattern is translated to Python's dialect,
parsed with Python's own regex parser and sampled; lookarounds and back-references are honoured by
checking each sample against the pattern (a rejection loop), with hypothesis' `from_regex` as the
last resort. A `pattern` is a search, not a full match, so padding an unanchored sample is fine.
"""

from __future__ import annotations

import random
import re
import re._constants as C  # type: ignore[import-not-found]  # the regex parser's (private: no stub)
import re._parser as sre_parse  # type: ignore[import-not-found]
import string
from collections.abc import Callable
from typing import Any

from harness.core.errors import HarnessError

_CATEGORIES = {
    C.CATEGORY_DIGIT: string.digits,
    C.CATEGORY_WORD: string.ascii_letters + string.digits + "_",
    C.CATEGORY_SPACE: " ",
    C.CATEGORY_NOT_DIGIT: string.ascii_letters,
    C.CATEGORY_NOT_WORD: "-. ",
    C.CATEGORY_NOT_SPACE: string.ascii_letters,
}
_PRINTABLE = string.ascii_letters + string.digits
# Unicode properties as ASCII subsets: a sample from a subset still matches the real class.
_PROPERTIES = {
    "L": "a-zA-Z",
    "Letter": "a-zA-Z",
    "Alphabetic": "a-zA-Z",
    "Alpha": "a-zA-Z",
    "Lu": "A-Z",
    "Uppercase_Letter": "A-Z",
    "Upper": "A-Z",
    "Uppercase": "A-Z",
    "Ll": "a-z",
    "Lowercase_Letter": "a-z",
    "Lower": "a-z",
    "Lowercase": "a-z",
    "N": "0-9",
    "Nd": "0-9",
    "Number": "0-9",
    "Digit": "0-9",
    "Decimal_Number": "0-9",
    "P": ".,!?",
    "Punctuation": ".,!?",
    "S": "+$",
    "Symbol": "+$",
    "Z": " ",
    "Zs": " ",
    "Alnum": "a-zA-Z0-9",
    "Word": "a-zA-Z0-9_",
    "Latin": "a-zA-Z",
    "ASCII": "a-zA-Z0-9",
}
_NOT_PROPERTIES = {
    "L": "0-9 ",
    "Lu": "a-z0-9",
    "Ll": "A-Z0-9",
    "N": "a-zA-Z",
    "Nd": "a-zA-Z",
    "Z": "a-zA-Z0-9",
}
_TOKEN = re.compile(
    r"\\[pP]\{\^?[A-Za-z_=]+\}|\\[pP][LNPSZ]|\\[zZA]|\\k<\w+>|\(\?<(?![=!])|\\.|\[|\]|\(\?[aiLmsux]+\)|.",
    re.S,
)


class UnsupportedPattern(HarnessError, ValueError):
    pass


def translate(pattern: str) -> str:
    """The same pattern in Python's dialect (`\\z`, `(?<n>`, `\\k<n>`, `\\p{L}`, inner flags)."""
    out: list[str] = []
    flags = ""
    depth = 0  # inside a character class
    for tok in _TOKEN.findall(pattern):
        if tok == "\\z":
            out.append(r"\Z")
        elif tok == "$" and not depth and "m" not in flags:
            out.append(r"\Z")  # ECMA's `$` is the end; Python's also matches before a final newline
        elif tok == "(?<":
            out.append("(?P<")
        elif tok.startswith("\\k<"):
            out.append(f"(?P={tok[3:-1]})")
        elif tok[:2] in ("\\p", "\\P"):
            name = tok[3:-1] if "{" in tok else tok[2:]
            negated = tok[1] == "P"
            if name.startswith("^"):
                negated, name = not negated, name[1:]
            name = name.split("=")[-1]
            chars = _NOT_PROPERTIES.get(name, "0-9") if negated else _PROPERTIES.get(name, "a-zA-Z")
            out.append(chars if depth else f"[{chars}]")
        elif tok == "[" and not depth:
            depth = 1
            out.append(tok)
        elif tok == "]" and depth and out and out[-1] not in ("[", "[^"):
            depth = 0
            out.append(tok)
        elif tok == "^" and depth and out and out[-1] == "[":
            out[-1] = "[^"
        elif re.fullmatch(r"\(\?[aiLmsux]+\)", tok) and out:  # Python wants global flags first
            flags += tok[2:-1]
        else:
            out.append(tok)
    text = "".join(out)
    return f"(?{''.join(sorted(set(flags)))}){text}" if flags else text


def compile_pattern(pattern: str) -> Any:
    """Parse once (after translating the dialect); raise UnsupportedPattern if it is invalid."""
    try:
        return sre_parse.parse(translate(pattern))
    except Exception as exc:  # re.error and friends
        raise UnsupportedPattern(f"invalid pattern {pattern!r}: {exc}") from None


def sample(parsed: Any, rng: random.Random, stretch: int = 3) -> str:
    return "".join(_emit(parsed, rng, stretch, {}))


class PatternSampler:
    """Strings that `pattern` finds a match in, within [low, high] characters, deterministic by rng."""

    TRIES = 12

    def __init__(
        self, pattern: str, low: int = 0, high: int | None = None, accept: Callable[[str], bool] | None = None
    ) -> None:
        self.pattern = pattern
        self.low, self.high = low, high
        self.accept = accept
        self.parsed = compile_pattern(pattern)
        self.regex = re.compile(translate(pattern))
        self._pool: list[str] | None = None

    def ok(self, value: str) -> bool:
        return (
            self.low <= len(value)
            and (self.high is None or len(value) <= self.high)
            and self.regex.search(value) is not None
            and (self.accept is None or self.accept(value))
        )

    def __call__(self, rng: random.Random) -> str:
        stretch = 3
        value = ""
        for _ in range(self.TRIES):
            value = sample(self.parsed, rng, stretch)
            if self.ok(value):
                return value
            fitted = _fit(value, self.low, self.high)
            if self.ok(fitted):
                return fitted
            if len(value) < self.low:
                stretch = max(stretch * 2, self.low)
            elif self.high is not None and len(value) > self.high:
                stretch = 0
        pool = self.pool()
        return rng.choice(pool) if pool else value

    def pool(self) -> list[str]:
        """Matching strings found once with a fixed seed (then hypothesis): the fallback."""
        if self._pool is None:
            rng = random.Random(0)
            found: list[str] = []
            for attempt in range(400):
                value = sample(self.parsed, rng, (attempt % 8) * max(self.low, 3) // 2)
                for candidate in (value, _fit(value, self.low, self.high)):
                    if self.ok(candidate) and candidate not in found:
                        found.append(candidate)
                if len(found) >= 8:
                    break
            self._pool = found or _hypothesis(self)
        return self._pool

    def satisfiable(self) -> bool:
        return bool(self.pool())


def _hypothesis(sampler: PatternSampler) -> list[str]:
    """hypothesis' regex strategy, derandomized, for what the sampler cannot find itself. 100
    examples: where nothing matches (a pattern its length bounds exclude), hypothesis' search
    grows faster than its budget (0.4 s at 100, 6.7 s at 500 for Linode's label), and a contract
    compiles each such schema once."""
    from hypothesis import Phase, find, settings
    from hypothesis import strategies as st
    from hypothesis.errors import HypothesisException

    try:
        return [
            find(
                st.from_regex(sampler.regex),
                sampler.ok,
                settings=settings(database=None, derandomize=True, max_examples=100, phases=[Phase.generate]),
            )
        ]
    except (HypothesisException, Exception):  # nothing found: the caller decides
        return []


def _fit(value: str, low: int, high: int | None) -> str:
    if high is not None and len(value) > high:
        value = value[:high]
    if len(value) < low:
        value += "x" * (low - len(value))
    return value


def _emit(parsed: Any, rng: random.Random, stretch: int, groups: dict[int, str]):
    for op, arg in parsed:
        if op == C.LITERAL:
            yield chr(arg)
        elif op == C.NOT_LITERAL:
            yield rng.choice([c for c in _PRINTABLE if ord(c) != arg])
        elif op == C.ANY:
            yield rng.choice(_PRINTABLE)
        elif op == C.IN:
            yield _from_class(arg, rng)
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", None)):
            low, high, sub = arg
            high = low + stretch if high == C.MAXREPEAT else min(high, low + max(stretch, 3) * 4)
            for _ in range(rng.randint(low, max(low, high))):
                yield from _emit(sub, rng, stretch, groups)
        elif op == C.SUBPATTERN:
            text = "".join(_emit(arg[-1], rng, stretch, groups))
            if arg[0] is not None:
                groups[arg[0]] = text
            yield text
        elif op == getattr(C, "ATOMIC_GROUP", None):
            yield from _emit(arg, rng, stretch, groups)
        elif op == C.BRANCH:
            yield from _emit(rng.choice(arg[1]), rng, stretch, groups)
        elif op == C.GROUPREF:
            yield groups.get(arg, "")
        elif op == C.GROUPREF_EXISTS:
            group, yes, no = arg
            chosen = yes if group in groups else no
            if chosen is not None:
                yield from _emit(chosen, rng, stretch, groups)
        # AT (anchors) and ASSERT/ASSERT_NOT (lookarounds) emit nothing: the caller checks


def _from_class(items: Any, rng: random.Random) -> str:
    negate = any(op == C.NEGATE for op, _ in items)
    chars: list[str] = []
    for op, arg in items:
        if op == C.LITERAL:
            chars.append(chr(arg))
        elif op == C.RANGE:
            low, high = arg
            chars.extend(chr(c) for c in range(low, min(high, low + 512) + 1))
        elif op == C.CATEGORY:
            chars.extend(_CATEGORIES.get(arg, _PRINTABLE))
    if negate:
        banned = set(chars)
        chars = [c for c in _PRINTABLE + "-_. " if c not in banned]
    return rng.choice(chars or list(_PRINTABLE))
