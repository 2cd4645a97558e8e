"""`harness contract lint`: report a contract's problems, or what the sandbox will make of it.

Every problem names the JSON pointer it is at and the fix; a usable contract is described the
way the sandbox reads it (collections with their envelope, paging and write statuses, and what
every other operation is), so a vendor sees where inference guessed and which hint corrects it.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from harness.checks import REGISTRY, Check
from harness.contract import Collection, Contract, ContractError, Problem, load
from harness.contract.collections import UPDATED_NAMES, operation_roles
from harness.contract.hints import hint_problems, malformed_hints, unknown_hint_keys
from harness.contract.offers import gap
from harness.contract.signing import signing_for
from harness.sandbox.credentials import credential_problems

# What a check needs of the connector (its manifest) or the runtime, beyond the contract's offers:
# the vendor cannot close these gaps, so lint says "applies if ...". Keys must be catalogue ids.
CONNECTOR_CONDITIONS: dict[str, str] = {
    "CON-03": "the connector declares `pushes` (streams it writes to)",
    "INT-06": "the connector declares `pushes` (streams it writes to)",
    "WH-01": "the connector declares `webhooks` (created/updated/deleted events of a collection)",
    "WH-02": "the connector declares `webhooks` (created/updated/deleted events of a collection)",
    "WH-03": "the connector declares `webhooks` (created/updated/deleted events of a collection)",
    "WH-04": "the connector declares `webhooks` whose contract events have a JSON body schema",
    "DATA-01": "the connector lists the fields it uses per stream under `[connector.fields]`",
    "RES-03": "the connector syncs a stream whose list needs a scope its other lists do not",
    "SEC-02": 'the connector is a Python connector (`python = "module:Class"`): a command\'s '
    "connections cannot be observed",
    "SEC-03": "the runtime can serve an untrusted TLS certificate (none of today's runtimes can)",
    "PERF-02": "the machine has /proc (Linux), where peak memory is read",
}


def lint_command(file: str, *, fmt: str = "text", level: str = "strict", strict: bool = False) -> int:
    """Print the contract's checklist; exit 1 on errors (and on warnings with `strict`)."""
    report = lint_report(file, level)
    failed = bool(report["errors"]) or (strict and bool(report["warnings"]))
    report["ok"] = not failed
    if fmt == "json":
        print(json.dumps(report, indent=2))
    else:
        print_text(report)
    return 1 if failed else 0


def lint_report(file: str, level: str = "strict") -> dict[str, Any]:
    """The checklist as one JSON-able document (its shape: contracts/lint.schema.json)."""
    report: dict[str, Any] = {
        "contract": file,
        "level": level,
        "ok": False,
        "errors": [],
        "warnings": [],
        "summary": None,
        "collections": [],
        "operations": {},
        "checks": [],
    }
    if Path(file).is_dir():
        report["errors"] = [
            _problem(Problem("", "is a folder, not a contract", "name the YAML or JSON file"))
        ]
        return report
    try:
        contract = load(file)
    except ContractError as exc:
        report["errors"] = [_problem(p) for p in exc.problems]
        return report
    report["summary"] = {
        "title": contract.title,
        "openapi": contract.version,
        "operations": len(contract.operations),
        "webhooks": len(contract.webhooks),
        "base_path": contract.base_path or "/",
    }
    malformed = malformed_hints(contract)
    if malformed:  # the collections cannot be inferred until these are mappings
        report["errors"] = [_problem(p) for p in malformed]
        return report
    errors = contract_warnings(contract) + hint_problems(contract)
    missing = gap(contract, "collections")
    if missing is not None:
        errors.append(Problem("/paths", missing.reason + "; no check has anything to sync", missing.hint))
    report["errors"] = [_problem(p) for p in errors]
    report["warnings"] = [_problem(p) for p in inference_warnings(contract) + unknown_hint_keys(contract)]
    report["collections"] = [
        {
            "name": col.name,
            "list": f"{col.list_op.method} {col.list_op.path}",
            "item": f"{col.item_op.method} {col.item_op.path}",
            "id_field": col.id_field,
            "updated_field": col.updated_field,
            "envelope": col.data_field,
            "paging": col.pagination.style,
            "writes": sorted(col.writes),
            "description": describe(col),
        }
        for col in contract.collections.values()
    ]
    report["signing"] = signing_report(contract)
    roles = Counter(role for role, _ in operation_roles(contract).values())
    report["operations"] = dict(sorted(roles.items()))
    report["checks"] = [check_entry(check, contract) for check in REGISTRY.select(level=level)]
    return report


def check_entry(check: Check, contract: Contract) -> dict[str, Any]:
    """Whether `check` will apply: `yes`, `if` (the connector decides) or `no`, with why and the fix."""
    entry: dict[str, Any] = {
        "id": check.id,
        "level": check.level,
        "pillar": check.pillar,
        "severity": check.severity,
        "title": check.title,
        "applies": "yes",
        "offer": None,
        "reason": None,
        "fix": None,
        "condition": None,
    }
    for name in check.requires:
        missing = gap(contract, name)
        if missing is not None:
            entry.update(applies="no", offer=name, reason=missing.reason, fix=missing.hint)
            return entry
    condition = CONNECTOR_CONDITIONS.get(check.id)
    if condition is not None:
        entry.update(applies="if", condition=condition + _candidates(check.id, contract))
    return entry


def _candidates(check_id: str, contract: Contract) -> str:
    """What the connector may declare for a conditional check, from this contract."""
    if check_id in ("CON-03", "INT-06"):
        names = [c.name for c in contract.collections.values() if "create" in c.writes]
        return f"; this contract's: {', '.join(names)}" if names else ""
    if check_id.startswith("WH-"):
        names = [w.path for w in contract.webhooks]
        return f"; this contract's: {', '.join(names)}" if names else ""
    return ""


def inference_warnings(contract: Contract) -> list[Problem]:
    """What the sandbox had to leave out when inferring collections, each with the hint that fills it."""
    out = []
    for col in contract.collections.values():
        at = f"{col.list_op.pointer}/x-sandbox"
        if col.updated_field is None:
            props = col.item_schema.get("properties", {})
            dated = [n for n, p in props.items() if isinstance(p, dict) and p.get("format") == "date-time"]
            example = dated[0] if dated else "last_changed"
            out.append(
                Problem(
                    at,
                    f"collection {col.name}: no record field says when a record last changed (none is "
                    f"named {', '.join(UPDATED_NAMES)}), so synced records carry no updated-at and an "
                    "incremental sync has nothing to compare",
                    f"name the field with `x-sandbox: {{updated_at: {example}}}` on {col.list_op} "
                    "(or on the item schema)"
                    + (f"; its date-time fields: {', '.join(dated)}" if dated else ""),
                )
            )
        params = [p.name for p in col.list_op.parameters if p.location == "query"]
        if col.pagination.style == "none" and params:
            out.append(
                Problem(
                    at,
                    f"collection {col.name}: none of {col.list_op}'s query parameters "
                    f"({', '.join(params)}) is one the sandbox knows as paging, so it answers one page",
                    "if the list pages, say how, e.g. "
                    "`x-sandbox: {pagination: {style: cursor, cursor: token, next: next_token, "
                    "limit: take}}` "
                    "(style: cursor, id, offset or page)",
                )
            )
    return out


def _problem(problem: Problem) -> dict[str, str]:
    return {"pointer": problem.pointer, "message": problem.message, "fix": problem.fix}


ROLE_ORDER = (
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
MARK = {"yes": "applies", "if": "applies if", "no": "not offered"}


def print_text(report: dict[str, Any]) -> None:
    """The checklist for a terminal (styled by rich) or a log (plain text, no wrapping)."""
    from rich.console import Console
    from rich.markup import escape

    out = Console(highlight=False, soft_wrap=True)
    err = Console(highlight=False, soft_wrap=True, stderr=True)  # problems, as every linter does
    file = report["contract"]

    def problems(kind: str, style: str) -> None:
        for p in report[kind]:
            where = f"{file}#{p['pointer']}" if p["pointer"] else file
            err.print(f"[{style}]{kind[:-1]}[/]: {escape(where)}: {escape(p['message'])}")
            if p["fix"]:
                err.print(f"  fix: {escape(p['fix'])}")

    summary = report["summary"]
    if summary:
        out.print(
            f"[bold]{escape(file)}[/]: {escape(summary['title'])}, OpenAPI {summary['openapi']}, "
            f"{summary['operations']} operations, {summary['webhooks']} webhooks, "
            f"base path {summary['base_path']}"
        )
    for col in report["collections"]:
        out.print(
            f"  collection {escape(col['name'])}: {escape(col['list'].split(' ', 1)[1])} + "
            f"{escape(col['item'].split(' ', 1)[1])}, {escape(col['description'])}"
        )
    for group in report.get("signing", []):
        dedup = f", delivery id {group['id_header']}" if group["id_header"] else ", no delivery id header"
        names = escape(", ".join(group["webhooks"]))
        out.print(f"  webhooks {names}: signed {escape(group['scheme'])}{dedup}")
    roles = report["operations"]
    if roles:
        out.print("  operations: " + ", ".join(f"{roles[r]} {r}" for r in ROLE_ORDER if roles.get(r)))
    problems("errors", "bold red")
    problems("warnings", "yellow")
    checks = report["checks"]
    if checks:
        counts = Counter(c["applies"] for c in checks)
        out.print(
            f"[bold]checks up to {report['level']}[/]: {counts['yes']} apply, {counts['if']} apply if the "
            f"connector declares what they judge, {counts['no']} will not apply"
        )
        for c in checks:
            style = {"yes": "green", "if": "cyan", "no": "yellow"}[c["applies"]]
            line = f"  {c['id']:<8} {c['level']:<8} [{style}]{MARK[c['applies']]:<11}[/] "
            if c["applies"] == "no":
                out.print(line + escape(f"{c['reason']} (offer: {c['offer']})"))
                out.print(" " * 31 + "fix: " + escape(c["fix"]))
            elif c["applies"] == "if":
                out.print(line + escape(c["condition"]))
            else:
                out.print(line + escape(c["title"]))
    verdict = "[bold red]unusable[/]" if report["errors"] else "[green]usable[/]"
    out.print(
        f"{escape(file)}: {verdict}, {len(report['errors'])} error(s), {len(report['warnings'])} warning(s)"
    )


def signing_report(contract: Contract) -> list[dict[str, Any]]:
    """How the contract's webhooks are signed (x-sandbox `signing`), one entry per scheme."""
    schemes = {w.path: signing_for(contract, w.path) for w in contract.webhooks}
    out = []
    for scheme in dict.fromkeys(schemes.values()):
        names = [name for name, s in schemes.items() if s == scheme]
        out.append({"webhooks": names, "scheme": scheme.name, "id_header": scheme.id_header})
    return out


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
        f"updated-at {col.updated_field!r}" if col.updated_field else "updated-at none (see warnings)",
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
