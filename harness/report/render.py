"""The one formatter for a failed check: what happened, what was expected, what the sandbox
saw, and how to reproduce it."""

from __future__ import annotations

from typing import Any

from harness.checks import Check, CheckFailure
from harness.connectors import ConnectorFailed


def render_failure(check: Check, error: BaseException, seed: int, replay: str) -> str:
    lines = [f"{check.id} failed: {check.title}", ""]
    if isinstance(error, CheckFailure):
        lines.append(f"  what happened: {error.message}")
        if error.expected:
            lines.append(f"  expected:      {error.expected}")
        requests = error.evidence.requests
        if requests:
            lines.append("  what the sandbox saw:")
            lines.extend(f"    {_request_line(r)}" for r in requests)
        for key, value in error.evidence.details.items():
            if value not in (None, "", [], {}):
                lines.append(f"  {key}: {value}")
    else:
        lines.append(f"  the connector failed: {error}")
        if isinstance(error, ConnectorFailed) and error.traceback_text:
            lines.append("  its traceback (last lines):")
            lines.extend(f"    {line}" for line in error.traceback_text.strip().splitlines()[-6:])
    lines += ["", f"  seed: {seed}", "Reproduce with:", f"  {replay}"]
    return "\n".join(lines)


def _request_line(entry: dict[str, Any]) -> str:
    query = "&".join(f"{k}={v}" for k, vs in entry.get("query", {}).items() for v in vs)
    text = f"#{entry.get('seq')} {entry.get('method')} {entry.get('path')}{'?' + query if query else ''}"
    text += f" -> {entry.get('status')}"
    violations = entry.get("violations") or []
    if violations:
        text += "  [" + "; ".join(f"{v['pointer']}: {v['message']}" for v in violations[:3]) + "]"
    return text
