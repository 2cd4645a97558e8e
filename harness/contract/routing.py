"""Match a concrete request path to the contract's path templates."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from harness.contract.model import Operation

_PARAM = re.compile(r"\{([^}/]+)\}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


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
        ordered = sorted(by_path, key=_specificity)
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
        """The operation for a method and path, or None. See `allowed` to tell 404 from 405.

        Where templates of the same shape both match (Xero's `/Invoices/{InvoiceID}/Attachments/`
        `{AttachmentID}`, a uuid, and `.../{FileName}`, any string), the first whose path values
        fit their parameters' schemas wins, else the first in order. A match whose multi-segment
        parameter had to span a `/` gives way to any template that matches segment by segment
        (GitHub's `/commits/{ref}` takes `0/check-suites` only if `/commits/{ref}/check-suites`
        did not exist)."""
        first: Match | None = None
        shape = None
        spanned: tuple[Match, bool] | None = None  # the first match holding a `/`, and whether it fits
        for regex, template, methods in self._routes:
            found = regex.match(path)
            if found and method.upper() in methods:
                names = _PARAM.findall(template)
                match = Match(methods[method.upper()], dict(zip(names, found.groups(), strict=True)))
                if any("/" in value for value in match.path_params.values()):
                    if spanned is None or (not spanned[1] and fits(match)):
                        spanned = (match, fits(match))
                    continue
                if first is not None and _PARAM.sub("{}", template) != shape:
                    continue  # only a template of the same shape stands in for the first
                if fits(match):
                    return match
                if first is None:
                    first, shape = match, _PARAM.sub("{}", template)
        if spanned is not None and (spanned[1] or first is None):
            return spanned[0]
        return first

    def allowed(self, path: str) -> list[str]:
        """Methods the contract defines for a path (empty: the path is unknown)."""
        out: list[str] = []
        for regex, _, methods in self._routes:
            if regex.match(path):
                out.extend(m for m in methods if m not in out)
        return out


def _specificity(template: str) -> tuple[tuple[int, ...], int, int]:
    """Sort key: segment by segment from the left, a literal segment before one mixing text and
    parameters (Gitea's `{sha}.{diffType}`), before a bare parameter (`/users/me` before
    `/users/{id}`, `commits/{sha}.{diffType}` before `commits/{sha}`); then fewer parameters."""
    scores = []
    for segment in template.strip("/").split("/"):
        bare = _PARAM.fullmatch(segment) is not None
        scores.append(0 if "{" not in segment else 2 if bare else 1)
    return tuple(scores), len(_PARAM.findall(template)), -template.count("/")


def fits(match: Match) -> bool:
    """Whether each path value plausibly fits its parameter's schema: its type (integer,
    number), `format: uuid`, `enum`, `pattern`. A rough test for telling templates apart, not
    validation (which follows and names what is wrong)."""
    for param in match.operation.parameters:
        value = match.path_params.get(param.name) if param.location == "path" else None
        if value is None or not isinstance(param.schema, dict):
            continue
        schema = param.schema
        kind = schema.get("type")
        if kind == "integer" and not _INTEGER.fullmatch(value):
            return False
        if kind == "number" and not _NUMBER.fullmatch(value):
            return False
        if schema.get("format") == "uuid" and not _UUID.fullmatch(value):
            return False
        enum = schema.get("enum")
        if isinstance(enum, list) and enum and value not in [str(v) for v in enum]:
            return False
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            try:
                if re.search(pattern, value) is None:
                    return False
            except re.error:
                continue
    return True
