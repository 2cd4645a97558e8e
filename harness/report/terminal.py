"""The certification summary at the end of a pytest run: a table per pillar and the verdict.

On a terminal it is a rich table fitted to the width; elsewhere (CI logs, pipes) one line per
check, nothing wrapped or cut, so a log keeps every message whole and greppable. Messages are
text, never markup: `[connector.fields]` prints as is.
"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.report.text import MARKS, printable

STYLES = {
    "passed": "green",
    "failed": "bold red",
    "error": "bold red",
    "not_applicable": "dim",
    "inconclusive": "yellow",
}


def summary_lines(
    predicate: dict[str, Any],
    paths: list[str],
    *,
    color: bool = False,
    width: int = 100,
    terminal: bool = True,
) -> list[str]:
    """The summary's lines; `terminal=False` gives one unwrapped line per check."""
    connector = predicate["connector"]
    blocked: dict[str, list[str]] = {}
    for check in predicate["checks"]:
        if check["status"] == "inconclusive":
            blocked.setdefault(check["blocked_by"], []).append(check["id"])
    rows = []
    for check in predicate["checks"]:
        status = check["status"]
        mark = MARKS[status] + (" waived" if check.get("waived") and status in ("failed", "error") else "")
        note = check["title"] if status == "passed" else (check["message"] or check["title"])
        rows.append((status, mark, check["id"], check["pillar"], printable(note)))
    buffer = io.StringIO()
    if terminal:
        grid = Table(title=None, box=None, show_header=True, header_style="bold", pad_edge=False)
        grid.add_column("status", no_wrap=True)
        grid.add_column("check", no_wrap=True)
        grid.add_column("pillar", no_wrap=True)
        grid.add_column("", overflow="fold")
        for status, mark, check_id, pillar, note in rows:
            grid.add_row(Text(mark, style=STYLES[status]), check_id, pillar, Text(note[:300]))
        table: Table | None = grid
    else:
        table, width = None, 1 << 16  # nothing wraps; every line is printed whole
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=width, highlight=False)
    console.print(
        f"{printable(connector['name'])} {printable(connector['version'])} "
        f"against {predicate['contract']['title']} "
        f"({predicate['sandbox']} sandbox, seed {predicate['seed']}, level {predicate['cert_level']})",
        markup=False,
    )
    for root, names in blocked.items():
        console.print(
            f"root cause: {root} failed; {len(names)} check(s) its defect blocked are inconclusive "
            f"({', '.join(names)}): fix {root} first",
            markup=False,
            style="bold red",
        )
    if table is not None:
        console.print(table)
    else:
        marks = max([6, *(len(r[1]) for r in rows)])
        ids = max([5, *(len(r[2]) for r in rows)])
        pillars = max([6, *(len(r[3]) for r in rows)])
        console.print(f"{'status':<{marks}}  {'check':<{ids}}  pillar", markup=False)
        for status, mark, check_id, pillar, note in rows:
            line = Text(f"{mark:<{marks}}", style=STYLES[status])
            line.append(f"  {check_id:<{ids}}  {pillar:<{pillars}}  {' '.join(note.split())}")
            console.print(line, soft_wrap=True)
    s = predicate["summary"]
    verdict = predicate["verdict"].upper()
    style = {"CERTIFIED": "bold green", "NOT CERTIFIED": "bold red"}.get(verdict, "bold yellow")
    console.print(
        f"{s['passed']} passed, {s['failed']} failed, {s['error']} errors, {s['not_applicable']} not "
        f"applicable, {s['waived']} waived"
        + (f", {s['inconclusive']} inconclusive" if s.get("inconclusive") else "")
        + f" -> [{style}]{verdict}[/]"
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
