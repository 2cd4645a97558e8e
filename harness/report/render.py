"""The one formatter for a failed check: what happened, what was expected, what the sandbox
saw, and how to reproduce it."""

from __future__ import annotations

from harness.checks import Check, CheckFailure
from harness.connectors import ConnectorFailed
from harness.report.text import request_line


def render_failure(check: Check, error: BaseException, seed: int, replay: str) -> str:
    lines = [f"{check.id} failed: {check.title}", ""]
    if isinstance(error, CheckFailure):
        lines.append(f"  what happened: {error.message}")
        if error.expected:
            lines.append(f"  expected:      {error.expected}")
        requests = error.evidence.requests
        if requests:
            lines.append("  what the sandbox saw:")
            lines.extend(f"    {request_line(r)}" for r in requests)
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
