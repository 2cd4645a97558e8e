"""The certificate as Markdown, for a CI comment on a pull request."""

from __future__ import annotations

from typing import Any

from harness.report.text import MARKS, request_line


def render_markdown(predicate: dict[str, Any], signed: bool) -> str:
    connector = predicate["connector"]
    icon = {"certified": "✅", "not certified": "❌", "incomplete": "⚠️"}[predicate["verdict"]]
    lines = [
        f"## {icon} {connector['name']} {connector['version']}: {predicate['verdict']}",
        "",
        f"Contract **{predicate['contract']['title']}**, {predicate['sandbox']} sandbox, "
        f"seed `{predicate['seed']}`, level `{predicate['cert_level']}`, "
        f"{'signed' if signed else 'unsigned'}.",
        "",
        "| status | check | pillar | message |",
        "| --- | --- | --- | --- |",
    ]
    for check in predicate["checks"]:
        status = MARKS[check["status"]] + (" (waived)" if check.get("waived") else "")
        message = check["message"].replace("|", "\\|").replace("\n", " ")[:300]
        lines.append(f"| {status} | **{check['id']}** {check['title']} | {check['pillar']} | {message} |")
    failed = [c for c in predicate["checks"] if c["status"] in ("failed", "error")]
    for check in failed:
        requests = (check.get("evidence") or {}).get("requests") or []
        if requests:
            lines += ["", f"<details><summary>{check['id']} evidence</summary>", "", "```"]
            lines += [request_line(r) for r in requests]
            lines += ["```", "</details>"]
    if predicate["not_run"]:
        lines += ["", f"Required but not run: {', '.join(predicate['not_run'])}"]
    for check_id, reason in predicate["waivers"].items():
        lines += ["", f"Waiver **{check_id}**: {reason}"]
    lines += ["", "Replay:", "", "```", predicate["replay"], "```", ""]
    return "\n".join(lines)
