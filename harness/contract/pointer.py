"""JSON pointers (RFC 6901), the one way this project names a place in a document."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    """A pointer token as the key it names (`~1` is `/`, `~0` is `~`; in that order)."""
    return token.replace("~1", "/").replace("~0", "~")


def join(*tokens: object) -> str:
    return "".join(f"/{escape(str(t))}" for t in tokens)


def from_path(parts: Iterable[object], prefix: str = "") -> str:
    return prefix + join(*parts)


def resolve(doc: Any, pointer: str) -> Any:
    """The node `pointer` (`/components/schemas/X`) names in `doc`, or None where it names nothing."""
    node = doc
    for token in [unescape(t) for t in pointer.split("/")[1:]]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node
