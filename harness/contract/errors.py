"""Errors and findings of the contract engine.

A ContractError stops loading: the document cannot be used. A Violation is a finding about a
request or response: validation returns all of them instead of stopping at the first.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.core.errors import HarnessError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a contract document, located by JSON pointer."""

    pointer: str
    message: str
    fix: str = ""

    def render(self, file: str) -> str:
        where = f"{file}#{self.pointer}" if self.pointer else file
        text = f"{where}: {self.message}"
        return f"{text}\n  fix: {self.fix}" if self.fix else text


class ContractError(HarnessError):
    """The contract cannot be used. Carries every problem found, each with its pointer."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems
        super().__init__("\n".join(p.render(file) for p in problems))


@dataclass(frozen=True)
class Violation:
    """A request or response that breaks the contract.

    `pointer` says where in the message (`/query/limit`, `/body/email`, `/headers/retry-after`,
    `/status`); `schema_pointer` says which part of the contract was broken, when one was.
    """

    pointer: str
    message: str
    schema_pointer: str = ""

    def __str__(self) -> str:
        return f"{self.pointer}: {self.message}"
