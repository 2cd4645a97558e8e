"""`harness contract lint`: report a contract's problems, or what the sandbox will make of it.

Every problem names the JSON pointer it is at and the fix; a usable contract is described the
way the sandbox reads it (collections with their envelope, paging and write statuses, and what
every other operation is), so a vendor sees where inference guessed and which hint corrects it.
"""

from __future__ import annotations

import sys
from collections import Counter

from harness.contract import Collection, Contract, ContractError, Problem, load
from harness.contract.collections import operation_roles
from harness.contract.signing import signing_for
from harness.sandbox.credentials import credential_problems


def lint_command(file: str) -> int:
    try:
        contract = load(file)
        problems = contract_warnings(contract)
    except ContractError as exc:
        print(f"{len(exc.problems)} problem(s) in {exc.file}:", file=sys.stderr)
        for problem in exc.problems:
            print(problem.render(exc.file), file=sys.stderr)
        return 1
    for problem in problems:
        print(problem.render(file), file=sys.stderr)
    print(
        f"{file}: OpenAPI {contract.version}, {len(contract.operations)} operations, "
        f"{len(contract.webhooks)} webhooks, base path {contract.base_path or '/'}"
    )
    schemes = {w.path: signing_for(contract, w.path) for w in contract.webhooks}
    for scheme in dict.fromkeys(schemes.values()):
        names = [name for name, s in schemes.items() if s == scheme]
        dedup = f", delivery id {scheme.id_header}" if scheme.id_header else ", no delivery id header"
        print(f"  webhooks {', '.join(names)}: signed {scheme.name}{dedup}")
    for name, col in contract.collections.items():
        print(f"  collection {name}: {col.list_op.path} + {col.item_op.path}, {describe(col)}")
    roles = Counter(role for role, _ in operation_roles(contract).values())
    order = (
        "list",
        "read",
        "create",
        "update",
        "delete",
        "action",
        "sub-resource",
        "singleton",
        "feed",
        "other",
    )
    print("  operations: " + ", ".join(f"{roles[r]} {r}" for r in order if roles[r]))
    if roles["other"] or roles["singleton"] or roles["action"] or roles["sub-resource"]:
        print(
            "  (operations outside collections get generated answers; rename a collection with "
            "`x-sandbox: {collection: NAME}` on its list GET, or leave one out with `{collection: false}`)"
        )
    return 1 if problems else 0


def describe(col: Collection) -> str:
    """`id 'id' (string), envelope data, paging id via starting_after, ...` for one collection."""
    pag = col.pagination
    paging = pag.style
    if pag.style in ("cursor", "id"):
        paging += f" via {pag.cursor_param}"
    elif pag.style == "offset":
        paging += f" via {pag.offset_param}"
    elif pag.style == "page":
        paging += f" via {pag.page_param}"
    if pag.limit_param:
        paging += f"/{pag.limit_param}"
    if pag.next_field:
        paging += f", next in {pag.next_field}" + (" (a URL)" if pag.next_is_url else "")
    if pag.has_more_field:
        paging += f", more in {pag.has_more_field}"
    if pag.link_header:
        paging += ", Link header"
    kind = "/".join(sorted(_types(col.id_schema))) or "any"
    parts = [
        f"id {col.id_field!r} ({kind}) from {{{col.id_param}}}",
        f"envelope {col.data_field or '(bare array)'}",
        f"paging {paging}",
        f"updated-at {col.updated_field!r}",
    ]
    if col.parent_params:
        parts.append("scoped by " + ", ".join(f"{{{p}}}" for p in col.parent_params))
    writes = [
        f"{kind} {col.writes[kind].status}" for kind in ("create", "update", "delete") if kind in col.writes
    ]
    if writes:
        parts.append("writes " + ", ".join(writes))
    return ", ".join(parts)


def _types(schema: dict) -> set[str]:
    kind = schema.get("type")
    return {kind} if isinstance(kind, str) else set(kind) if isinstance(kind, list) else set()


def contract_warnings(contract: Contract) -> list[Problem]:
    """Problems the OpenAPI schema allows but a sandbox cannot work with, each with its pointer."""
    out = []
    seen: dict[str, str] = {}
    for op in contract.operations:
        if op.operation_id in seen:
            out.append(
                Problem(
                    f"{op.pointer}/operationId",
                    f"operationId {op.operation_id!r} is used by {seen[op.operation_id]} and {op}",
                    "give every operation its own operationId",
                )
            )
        seen[op.operation_id] = str(op)
        if not op.responses:
            out.append(
                Problem(f"{op.pointer}/responses", f"{op} documents no responses", "document at least one")
            )
        for scope in sorted(op.scopes):
            if contract.scopes and scope not in contract.scopes:
                out.append(
                    Problem(
                        f"{op.pointer}/security",
                        f"{op} needs scope {scope!r}, which no security scheme defines",
                        "add the scope to the OAuth2 flow's `scopes` or correct its name",
                    )
                )
    return out + credential_problems(contract)
