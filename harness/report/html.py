"""One self-contained HTML page for people: the verdict, the checklist by pillar, the evidence
of each failed check folded under it, and the command that replays the run."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from harness.report.fixes import docs_anchor, fix_for
from harness.report.text import MARKS, by_pillar, request_line

STYLE = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:60rem;
color:#1d2430;padding:0 1rem}
h1{font-size:1.5rem;margin:0 0 .25rem}
.verdict{display:inline-block;padding:.35rem .8rem;border-radius:.4rem;font-weight:700;font-size:1.1rem;
margin:.5rem 0 1rem}
.certified{background:#d8f5dd;color:#0b5d1e}.not-certified{background:#fbdcdc;color:#8a1111}
.incomplete{background:#fff1c2;color:#6b4f00}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}
td,th{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e3e6ea;vertical-align:top}
.status{font-weight:700;white-space:nowrap}.passed{color:#0b7a28}.failed,.error{color:#b31515}
.not_applicable{color:#6b7280}.inconclusive{color:#a16207}
.meta{color:#4b5563}code,pre{font:13px/1.4 ui-monospace,monospace}
pre{background:#f4f6f8;padding:.6rem;border-radius:.3rem;white-space:pre-wrap;overflow-wrap:anywhere}
details summary{cursor:pointer;color:#1f4fbf}
.duration{white-space:nowrap;text-align:right}.fix{margin:.4rem 0;padding:.4rem .6rem;background:#eef4ff;
border-radius:.3rem}td,.meta,p{overflow-wrap:anywhere}
@media (max-width:40rem){body{margin:1rem auto;font-size:14px}td,th{padding:.3rem .25rem}}
"""


def render_html(predicate: dict[str, Any], signed: bool) -> str:
    connector, contract = predicate["connector"], predicate["contract"]
    verdict = predicate["verdict"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(connector['name'])} {escape(connector['version'])}: {escape(verdict)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{escape(connector['name'])} {escape(connector['version'])}</h1>",
        f"<div class='meta'>tested against {escape(contract['title'])} · {escape(predicate['sandbox'])} "
        f"sandbox · seed {predicate['seed']} · level {escape(predicate['cert_level'])} · "
        f"{'signed' if signed else 'unsigned'} · harness {escape(predicate['harness']['version'])}</div>",
        f"<div class='verdict {verdict.replace(' ', '-')}'>{escape(verdict.upper())}</div>",
        f"<p class='meta'>{_summary(predicate['summary'])}</p>",
    ]
    for pillar, checks in by_pillar(predicate["checks"]).items():
        parts.append(f"<h2>{escape(pillar)}</h2><table><tr><th>status</th><th>check</th><th></th></tr>")
        for check in checks:
            parts.append(_row(check, contract.get("paging") or ()))
        parts.append("</table>")
    if predicate["not_run"]:
        parts.append(f"<p>Required but not run: {escape(', '.join(predicate['not_run']))}</p>")
    if predicate["waivers"]:
        items = "".join(
            f"<li><code>{escape(k)}</code>: {escape(v)}</li>" for k, v in predicate["waivers"].items()
        )
        parts.append(f"<h2>waivers</h2><ul>{items}</ul>")
    parts.append(f"<h2>replay</h2><pre>{escape(predicate['replay'])}</pre>")
    parts.append(
        f"<p class='meta'>connector digest sha256:{escape(connector['digest']['sha256'])}<br>"
        f"contract digest sha256:{escape(contract['digest']['sha256'])}</p></body></html>"
    )
    return "\n".join(parts)


def _row(check: dict[str, Any], paging: Any = ()) -> str:
    status = check["status"]
    mark = MARKS[status] + (" (waived)" if check.get("waived") and status in ("failed", "error") else "")
    cell = f"<b>{escape(check['id'])}</b> {escape(check['title'])}"
    if status in ("failed", "error", "not_applicable", "inconclusive") and check["message"]:
        cell += f"<br>{escape(check['message'])}"
    if check.get("waived"):
        cell += f"<br><i>waiver: {escape(check['waived'])}</i>"
    fix = fix_for(check["id"], paging)
    if status in ("failed", "error") and fix:
        link = escape(docs_anchor(check["id"]), quote=True)
        cell += f"<p class='fix'><b>what to change:</b> {escape(fix)} <a href='{link}'>docs</a></p>"
    evidence = check.get("evidence") or {}
    if status in ("failed", "error") and (
        evidence.get("requests") or evidence.get("details") or check["expected"]
    ):
        body = ""
        if check["expected"]:
            body += f"<p>expected: {escape(check['expected'])}</p>"
        if evidence.get("requests"):
            lines = "\n".join(request_line(r) for r in evidence["requests"])
            body += f"<p>what the sandbox saw:</p><pre>{escape(lines)}</pre>"
        if evidence.get("details"):
            body += f"<pre>{escape(json.dumps(evidence['details'], indent=2, default=str))}</pre>"
        cell += f"<details><summary>evidence</summary>{body}</details>"
    return (
        f"<tr><td class='status {status}'>{escape(mark)}</td><td>{cell}</td>"
        f"<td class='meta duration'>{check['duration']:.1f}&nbsp;s</td></tr>"
    )


def _summary(summary: dict[str, int]) -> str:
    return ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in summary.items())
