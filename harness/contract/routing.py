"""Match a concrete request path to the contract's path templates."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from harness.contract.model import Operation

_PARAM = re.compile(r"\{([^}/]+)\}")


@dataclass(frozen=True)
class Match:
    operation: Operation
    path_params: dict[str, str]


def by_path_ops(by_path: dict[str, dict[str, Operation]]) -> list[Operation]:
    return [op for methods in by_path.values() for op in methods.values()]


class Router:
    """Templates compiled to regexes; literal segments win over parameters (`/me` before `/{id}`)."""

    def __init__(self, operations: Iterable[Operation]) -> None:
        by_path: dict[str, dict[str, Operation]] = {}
        for op in operations:
            by_path.setdefault(op.path, {})[op.method] = op
        ordered = sorted(by_path, key=lambda p: (len(_PARAM.findall(p)), -p.count("/")))
        spanning = {
            (op.path, param.name)
            for op in by_path_ops(by_path)
            for param in op.parameters
            if param.location == "path" and param.multi_segment
        }
        self._routes = [
            (self._compile(p, {name for path, name in spanning if path == p}), p, by_path[p]) for p in ordered
        ]

    @staticmethod
    def _compile(template: str, spanning: set[str] | frozenset[str] = frozenset()) -> re.Pattern[str]:
        """The template as a regex; a parameter in `spanning` may hold `/` (one that spans segments)."""
        pattern, last = [], 0
        for m in _PARAM.finditer(template):
            pattern.append(re.escape(template[last : m.start()]))
            value = ".+" if m.group(1) in spanning else "[^/]+"
            pattern.append(f"(?P<p{len(pattern)}>{value})")
            last = m.end()
        pattern.append(re.escape(template[last:]))
        return re.compile("^" + "".join(pattern) + "$")

    def match(self, method: str, path: str) -> Match | None:
        """The operation for a method and path, or None. See `allowed` to tell 404 from 405."""
        for regex, template, methods in self._routes:
            found = regex.match(path)
            if found and method.upper() in methods:
                names = _PARAM.findall(template)
                return Match(methods[method.upper()], dict(zip(names, found.groups(), strict=True)))
        return None

    def allowed(self, path: str) -> list[str]:
        """Methods the contract defines for a path (empty: the path is unknown)."""
        out: list[str] = []
        for regex, _, methods in self._routes:
            if regex.match(path):
                out.extend(m for m in methods if m not in out)
        return out
