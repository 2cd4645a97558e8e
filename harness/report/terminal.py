"""The certification summary at the end of a pytest run: a table per pillar and the verdict."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.report.text import MARKS, printable

STYLES = {"passed": "green", "failed": "bold red", "error": "bold red", "not_applicable": "dim"}


def summary_lines(
    predicate: dict[str, Any], paths: list[str], *, color: bool = False, width: int = 100
) -> list[str]:
    connector = predicate["connector"]
    table = Table(title=None, box=None, show_header=True, header_style="bold", pad_edge=False)
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("pillar", no_wrap=True)
    table.add_column("", overflow="fold")
    for check in predicate["checks"]:
        status = check["status"]
        mark = MARKS[status] + (" waived" if check.get("waived") and status in ("failed", "error") else "")
        note = check["title"] if status == "passed" else (check["message"] or check["title"])
        table.add_row(  # connector text is a Text: never read as rich markup
            Text(mark, style=STYLES[status]), check["id"], check["pillar"], Text(printable(note[:300]))
        )
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=width, highlight=False)
    console.print(
        f"{printable(connector['name'])} {printable(connector['version'])} "
        f"against {predicate['contract']['title']} "
        f"({predicate['sandbox']} sandbox, seed {predicate['seed']}, level {predicate['cert_level']})",
        markup=False,
    )
    console.print(table)
    s = predicate["summary"]
    verdict = predicate["verdict"].upper()
    style = {"CERTIFIED": "bold green", "NOT CERTIFIED": "bold red"}.get(verdict, "bold yellow")
    console.print(
        f"{s['passed']} passed, {s['failed']} failed, {s['error']} errors, {s['not_applicable']} not "
        f"applicable, {s['waived']} waived -> [{style}]{verdict}[/]"
    )
    for check_id, reason in predicate["waivers"].items():
        console.print(f"waiver {check_id}: {printable(reason)}", markup=False)
    if predicate.get("code_changed"):
        console.print(
            f"the connector's code changed during the run: {', '.join(predicate['code_changed'])}",
            markup=False,
            style="bold red",
        )
    if predicate["not_run"]:
        console.print(f"required but not run: {', '.join(predicate['not_run'])}", markup=False)
    if predicate["verdict"] != "certified":
        console.print(f"Reproduce with: {predicate['replay']}", markup=False, soft_wrap=True)
    for path in paths:
        console.print(f"report written to {path}", markup=False, soft_wrap=True)
    return buffer.getvalue().rstrip("\n").splitlines()
