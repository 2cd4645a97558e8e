"""The certificate as Markdown, for a CI comment on a pull request.

Much of what it shows is connector-controlled (its name, error text, the paths it requested,
waiver reasons), and a comment is rendered as HTML by the forge. So every such text is escaped:
no raw HTML, no links or images (`javascript:` or otherwise), no table breakouts; code blocks use
a fence longer than any backtick run inside them.
"""

from __future__ import annotations

import re
from typing import Any

from harness.report.text import MARKS, request_line

SPECIAL = re.compile(r"([\\`*_{}\[\]()|~!])")  # never at a line start, so no list or heading marks
SCHEMES = re.compile(r"(?i)\b(javascript|data|vbscript|file):")


def md_text(value: Any, limit: int | None = None) -> str:
    """Connector-controlled text as inert Markdown: one line, HTML entities, specials escaped."""
    text = " ".join(str(value).split())
    if limit is not None:
        text = text[:limit]
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = SPECIAL.sub(r"\\\1", text)
    return SCHEMES.sub(lambda m: f"{m.group(1)}&#58;", text)


def md_code(lines: list[str]) -> list[str]:
    """A fenced block whose fence no line inside can close."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, *lines, fence]


def render_markdown(predicate: dict[str, Any], signed: bool) -> str:
    connector = predicate["connector"]
    icon = {"certified": "✅", "not certified": "❌", "incomplete": "⚠️"}[predicate["verdict"]]
    lines = [
        f"## {icon} {md_text(connector['name'])} {md_text(connector['version'])}: {predicate['verdict']}",
        "",
        f"Contract **{md_text(predicate['contract']['title'])}**, {md_text(predicate['sandbox'])} sandbox, "
        f"seed `{predicate['seed']}`, level `{predicate['cert_level']}`, "
        f"{'signed' if signed else 'unsigned'}.",
        "",
        "| status | check | pillar | message |",
        "| --- | --- | --- | --- |",
    ]
    for check in predicate["checks"]:
        status = MARKS[check["status"]] + (" (waived)" if check.get("waived") else "")
        lines.append(
            f"| {status} | **{check['id']}** {md_text(check['title'])} | {md_text(check['pillar'])} "
            f"| {md_text(check['message'], 300)} |"
        )
    if predicate.get("code_changed"):
        lines += [
            "",
            f"The connector's code changed during the run: {md_text(', '.join(predicate['code_changed']))}",
        ]
    failed = [c for c in predicate["checks"] if c["status"] in ("failed", "error")]
    for check in failed:
        requests = (check.get("evidence") or {}).get("requests") or []
        if requests:
            lines += ["", f"<details><summary>{check['id']} evidence</summary>", ""]
            lines += md_code([request_line(r) for r in requests])
            lines += ["</details>"]
    if predicate["not_run"]:
        lines += ["", f"Required but not run: {', '.join(predicate['not_run'])}"]
    for check_id, reason in predicate["waivers"].items():
        lines += ["", f"Waiver **{md_text(check_id)}**: {md_text(reason)}"]
    lines += ["", "Replay:", "", *md_code([predicate["replay"]]), ""]
    return "\n".join(lines)
