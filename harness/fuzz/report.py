"""The campaign's report, JSON and HTML: its findings with their minimal inputs, and what was covered.

Connector text (error messages, inputs) is masked of credential and canary shapes and, in the
HTML, escaped: a finding may quote what the connector wrote.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from harness.report.mask import Masker


def report(campaign: Any) -> dict[str, Any]:
    masker = Masker()
    findings = []
    for finding in campaign.findings.values():
        path = campaign.directory.path_of(finding)
        findings.append(
            masker.value(
                {
                    "id": finding.id,
                    "key": finding.key,
                    "oracle": finding.oracle,
                    "target": finding.target,
                    "message": finding.message,
                    "input": finding.input,
                    "described": finding.described,
                    "found_after": finding.found_after,
                    "examples_before": finding.examples_before,
                    "seen": finding.seen,
                    "flaky": finding.flaky,
                    "file": str(path),
                    "replay": finding.replay_command(path),
                }
            )
        )
    return {
        "connector": campaign.connector,
        "contract": campaign.contract,
        "seed": campaign.seed,
        "targets": campaign.targets,
        "elapsed": round(campaign.elapsed, 2),
        "examples": sum(s.examples for s in campaign.stats.values()),
        "stats": {name: s.to_dict() for name, s in campaign.stats.items()},
        "coverage": campaign.coverage(),
        "findings": findings,
    }


def write_reports(campaign: Any) -> tuple[Path, Path]:
    data = report(campaign)
    root = campaign.directory.root
    json_path, html_path = root / "report.json", root / "report.html"
    json_path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    html_path.write_text(render_html(data), encoding="utf-8")
    return json_path, html_path


def render_html(data: dict[str, Any]) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(name)}</td><td>{s['examples']}</td><td>{s['examples_per_second']}</td>"
        f"<td>{s['seconds']}</td><td>{e(', '.join(s['operations']))}</td>"
        f"<td>{e(', '.join(s['fault_kinds']))}</td></tr>"
        for name, s in data["stats"].items()
    )
    findings = "".join(
        f"<section><h3>{e(f['id'])} <small>[{e(f['target'])}, {e(f['oracle'])}]</small></h3>"
        f"<p>{e(f['message'])}</p><p><b>Minimal input:</b> {e(f['described'])}</p>"
        f"<pre>{e(json.dumps(f['input'], indent=2, ensure_ascii=False))}</pre>"
        f"<p><b>Replay:</b> <code>{e(f['replay'])}</code></p>"
        f"<p>found after {f['found_after']} s and {f['examples_before']} examples; seen {f['seen']} times"
        f"{' (flaky)' if f['flaky'] else ''}</p></section>"
        for f in data["findings"]
    )
    cov = data["coverage"]
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Fuzz campaign: "
        f"{e(data['connector'])}</title><style>body{{font-family:sans-serif;max-width:70em;margin:2em auto}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em}"
        "pre{background:#f6f6f6;padding:.6em;overflow:auto}</style></head><body>"
        f"<h1>Fuzz campaign: {e(data['connector'])}</h1>"
        f"<p>seed {data['seed']}, {data['elapsed']} s, {data['examples']} examples, "
        f"{len(data['findings'])} finding(s)</p>"
        "<h2>Targets</h2><table><tr><th>target</th><th>examples</th><th>per second</th><th>seconds</th>"
        f"<th>operations</th><th>fault kinds</th></tr>{rows}</table>"
        f"<p>operations reached: {_list(cov['operations'])} (of {_list(cov['operations_known'])}); "
        f"fault kinds fired: {_list(cov['fault_kinds'])} (of {_list(cov['fault_kinds_known'])})</p>"
        f"<h2>Findings</h2>{findings or '<p>none</p>'}</body></html>\n"
    )


def _list(names: list[str]) -> str:
    return html.escape(", ".join(names) or "none")
