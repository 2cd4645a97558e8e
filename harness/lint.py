"""`harness contract lint`: report a contract's problems, or what the sandbox will make of it."""

from __future__ import annotations

import sys

from harness.contract import ContractError, load


def lint_command(file: str) -> int:
    try:
        contract = load(file)
        problems = contract_warnings(contract)
    except ContractError as exc:
        print(f"{len(exc.problems)} problem(s) in {exc.file}:", file=sys.stderr)
        for problem in exc.problems:
            print(problem.render(exc.file), file=sys.stderr)
        return 1
    for text in problems:
        print(f"{file}: {text}", file=sys.stderr)
    print(
        f"{file}: OpenAPI {contract.version}, {len(contract.operations)} operations, "
        f"{len(contract.webhooks)} webhooks, base path {contract.base_path or '/'}"
    )
    for name, col in contract.collections.items():
        print(
            f"  collection {name}: {col.list_op.path} + {col.item_op.path}, id {col.id_field!r}, "
            f"updated-at {col.updated_field!r}, paging {col.pagination.style}"
        )
    return 1 if problems else 0


def contract_warnings(contract) -> list[str]:
    """Problems the OpenAPI schema allows but a sandbox cannot work with."""
    out = []
    seen: dict[str, str] = {}
    for op in contract.operations:
        if op.operation_id in seen:
            out.append(f"operationId {op.operation_id!r} is used by {seen[op.operation_id]} and {op}")
        seen[op.operation_id] = str(op)
        if not op.responses:
            out.append(f"{op} documents no responses")
        for scope in op.scopes:
            if contract.scopes and scope not in contract.scopes:
                out.append(f"{op} needs scope {scope!r}, which no security scheme defines")
    return out
