"""The certificate: an in-toto Statement v1 about the connector, in a DSSE envelope.

Subject: the connector's code digest. Predicate: the run (contract digest, runtime, seed, level,
every check's outcome with its evidence) and the verdict. Supply-chain tooling can read it;
`harness cert verify` checks its signature and its schema.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import harness
from harness.report.signing import SigningError, open_envelope

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://connector-harness.dev/certification/v1"
FAILING = ("failed", "error", "inconclusive")
STATUSES = ("passed", "failed", "error", "not_applicable", "inconclusive")


def root_causes(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The checks with each failed suspect of a check that failed too made `inconclusive`,
    `blocked_by` that check: its own message pointed away from the cause the root check names.
    The `suspect` note is consumed either way (a suspect of a passing check keeps its failure)."""
    failed = {c["id"] for c in checks if c["status"] == "failed"}
    out = []
    for check in checks:
        check = dict(check)
        found = check.pop("suspect", None)
        if found and check["status"] in ("failed", "error") and found["check"] in failed:
            check["status"] = "inconclusive"
            check["blocked_by"] = found["check"]
            check["evidence"] = {**check.get("evidence", {}), "own_finding": check["message"]}
            check["message"] = f"blocked by {found['check']}: {found['reason']}"
        out.append(check)
    return out


def verdict(checks: list[dict[str, Any]], required: set[str], code_changed: list[str] | None = None) -> str:
    """certified: every required check ran and none failed (unless waived), and the code that
    ran is the code digested before the first call; else why not."""
    ran = {c["id"] for c in checks}
    if code_changed:
        return "not certified"
    if any(c["status"] in FAILING and c["required"] and not c.get("waived") for c in checks):
        return "not certified"
    if required - ran:
        return "incomplete"
    return "certified"


def build_predicate(
    *,
    connector: dict[str, Any],
    contract: dict[str, Any],
    sandbox: str,
    seed: int,
    cert_level: str,
    started_at: datetime,
    checks: list[dict[str, Any]],
    required: set[str],
    waivers: dict[str, str],
    replay: str,
    rootdir: str,
    code_changed: list[str] | None = None,
    audit: dict[str, Any] | None = None,
    fuzz_findings: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    checks = root_causes(checks)
    counts = Counter(c["status"] for c in checks)
    summary = {s: counts.get(s, 0) for s in STATUSES}
    summary["waived"] = sum(1 for c in checks if c.get("waived") and c["status"] in FAILING)
    extra = {"fuzz_findings": fuzz_findings} if fuzz_findings is not None else {}  # `--fuzz-findings`
    return {
        "connector": connector,
        "harness": {"version": harness.__version__},
        "contract": contract,
        "sandbox": sandbox,
        "seed": seed,
        "cert_level": cert_level,
        "started_at": started_at.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "checks": checks,
        "not_run": sorted(required - {c["id"] for c in checks}),
        "summary": summary,
        "waivers": waivers,
        "verdict": verdict(checks, required, code_changed),
        "code_changed": list(code_changed or []),
        "audit": audit or {},
        "gate": None,
        "replay": replay,
        "rootdir": rootdir,
        **extra,
    }


def audit_anchor(checks: list[dict[str, Any]]) -> dict[str, Any]:
    """One digest over every check's audit chain heads, in check order: the certificate's anchor
    for the sandbox's evidence (each head is also in its check)."""
    outer = hashlib.sha256()
    keys = set()
    for check in checks:
        for head in check.get("audit") or []:
            keys.add(head["key_id"])
            outer.update(f"{check['id']}\0{head['tenant']}\0{head['seq']}\0{head['hash']}\n".encode())
    return {"key_ids": sorted(keys), "sha256": outer.hexdigest()}


def statement(predicate: dict[str, Any]) -> dict[str, Any]:
    connector = predicate["connector"]
    return {
        "_type": STATEMENT_TYPE,
        "subject": [
            {
                "name": f"connector:{connector['name']}@{connector['version']}",
                "digest": {"sha256": connector["digest"]["sha256"]},
            }
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Write atomically: a CI job never reads half a certificate."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def schema_path() -> Path:
    from harness.contract import default_contract_path

    return default_contract_path().parent / "certificate.schema.json"


def read_certificate(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The envelope and the statement in it, the statement checked against the schema."""
    try:
        env = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SigningError(f"cannot read {path} as JSON: {exc}") from None
    doc = open_envelope(env)
    schema = json.loads(schema_path().read_text())
    from harness.contract.formats import defer_iri_grammar

    defer_iri_grammar()  # before jsonschema: its IRI grammar costs a CPU second (contract/formats.py)
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(schema).iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path)
        raise SigningError(
            f"the statement does not match the certificate schema at /{where}: {errors[0].message}"
        )
    return env, doc
