"""What every rendering shares: status marks, grouping by pillar, one line per request."""

from __future__ import annotations

import re
from typing import Any

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # keeps tab and newline

MARKS = {
    "passed": "PASS",
    "failed": "FAIL",
    "error": "ERROR",
    "not_applicable": "N/A",
    "inconclusive": "BLOCKED",
}


def by_pillar(checks: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for check in checks:
        out.setdefault(check["pillar"], []).append(check)
    return out


def request_line(entry: dict[str, Any]) -> str:
    """`#3 GET /v1/contacts?limit=1000 -> 400  [/query/limit: ...]` (secrets already masked)."""
    query = "&".join(f"{k}={v}" for k, vs in entry.get("query", {}).items() for v in vs)
    text = f"#{entry.get('seq')} {entry.get('method')} {entry.get('path')}{'?' + query if query else ''}"
    text += f" -> {entry.get('status')}"
    violations = entry.get("violations") or []
    if violations:
        text += "  [" + "; ".join(f"{v['pointer']}: {v['message']}" for v in violations[:3]) + "]"
    return text


def printable(text: str) -> str:
    """Connector text without control characters: no ANSI escapes that repaint a terminal."""
    return CONTROL.sub("\N{REPLACEMENT CHARACTER}", text)
