"""The certification summary printed at the end of a pytest run."""

from __future__ import annotations

from typing import Any

MARKS = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "not_applicable": "N/A"}


def summary_lines(certificate: dict[str, Any], report_path: str | None) -> list[str]:
    connector = certificate["connector"]
    lines = [
        f"{connector['name']} {connector['version']} against {certificate['contract']['title']} "
        f"({certificate['sandbox']} sandbox, seed {certificate['seed']}, level {certificate['cert_level']})"
    ]
    for result in certificate["checks"]:
        lines.append(f"  {MARKS[result['status']]:<5} {result['id']:<8} {result['title']}")
        if result["status"] != "passed" and result["message"]:
            lines.append(f"        {result['message'][:300]}")
    s = certificate["summary"]
    lines.append(
        f"{s['passed']} passed, {s['failed']} failed, {s['error']} errors, "
        f"{s['not_applicable']} not applicable -> {certificate['verdict'].upper()}"
    )
    if certificate["verdict"] != "certified":
        lines.append(f"Reproduce with: {certificate['replay']}")
    if report_path:
        lines.append(f"certificate written to {report_path}")
    return lines
