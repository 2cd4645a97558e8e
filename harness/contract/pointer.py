"""JSON pointers (RFC 6901), the one way this project names a place in a document."""

from __future__ import annotations

from collections.abc import Iterable


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def join(*tokens: object) -> str:
    return "".join(f"/{escape(str(t))}" for t in tokens)


def from_path(parts: Iterable[object], prefix: str = "") -> str:
    return prefix + join(*parts)
