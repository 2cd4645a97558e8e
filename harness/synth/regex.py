"""Sample strings that match a regular expression, using Python's own regex parser.

Covers what contracts use in practice (literals, classes, repeats, groups, alternation);
anything else is refused when the dataset is built, not halfway through a sync.
"""

from __future__ import annotations

import random
import string
from typing import Any

try:  # Python 3.11+
    import re._constants as C
    import re._parser as sre_parse
except ImportError:  # pragma: no cover
    import sre_constants as C  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

_CATEGORIES = {
    C.CATEGORY_DIGIT: string.digits,
    C.CATEGORY_WORD: string.ascii_letters + string.digits + "_",
    C.CATEGORY_SPACE: " ",
    C.CATEGORY_NOT_DIGIT: string.ascii_letters,
    C.CATEGORY_NOT_WORD: "-. ",
    C.CATEGORY_NOT_SPACE: string.ascii_letters,
}
_PRINTABLE = string.ascii_letters + string.digits


class UnsupportedPattern(ValueError):
    pass


def compile_pattern(pattern: str) -> Any:
    """Parse once; raise UnsupportedPattern for constructs this sampler cannot satisfy."""
    try:
        parsed = sre_parse.parse(pattern)
    except Exception as exc:  # re.error and friends
        raise UnsupportedPattern(f"invalid pattern {pattern!r}: {exc}") from None
    _check(parsed, pattern)
    return parsed


def sample(parsed: Any, rng: random.Random) -> str:
    return "".join(_emit(parsed, rng))


def _check(parsed: Any, pattern: str) -> None:
    for op, arg in parsed:
        if op in (C.ASSERT, C.ASSERT_NOT, C.GROUPREF, C.GROUPREF_EXISTS):
            raise UnsupportedPattern(f"pattern {pattern!r} uses lookaround or back-references")
        if op in (C.MAX_REPEAT, C.MIN_REPEAT):
            _check(arg[2], pattern)
        elif op == C.SUBPATTERN:
            _check(arg[-1], pattern)
        elif op == C.BRANCH:
            for branch in arg[1]:
                _check(branch, pattern)


def _emit(parsed: Any, rng: random.Random):
    for op, arg in parsed:
        if op == C.LITERAL:
            yield chr(arg)
        elif op == C.NOT_LITERAL:
            yield rng.choice([c for c in _PRINTABLE if ord(c) != arg])
        elif op == C.ANY:
            yield rng.choice(_PRINTABLE)
        elif op == C.IN:
            yield _from_class(arg, rng)
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
            low, high, sub = arg
            high = low + 3 if high == C.MAXREPEAT else high
            for _ in range(rng.randint(low, high)):
                yield from _emit(sub, rng)
        elif op == C.SUBPATTERN:
            yield from _emit(arg[-1], rng)
        elif op == C.BRANCH:
            yield from _emit(rng.choice(arg[1]), rng)
        # AT (anchors) emit nothing


def _from_class(items: Any, rng: random.Random) -> str:
    negate = any(op == C.NEGATE for op, _ in items)
    chars: list[str] = []
    for op, arg in items:
        if op == C.LITERAL:
            chars.append(chr(arg))
        elif op == C.RANGE:
            chars.extend(chr(c) for c in range(arg[0], arg[1] + 1))
        elif op == C.CATEGORY:
            chars.extend(_CATEGORIES.get(arg, _PRINTABLE))
    if negate:
        chars = [c for c in _PRINTABLE if c not in set(chars)]
    return rng.choice(chars or list(_PRINTABLE))
