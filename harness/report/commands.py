"""The `harness cert verify` and `harness keygen` commands.

`cert verify` is what a gate runs on a certificate it is handed: the signature and the schema
first, then the gate's own requirements (a verdict, a level, a contract, the code at hand), each
class of failure with its own exit status so a pipeline can tell them apart.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from harness.report.certificate import read_certificate
from harness.report.signing import SigningError, generate, load_public, verify

EXIT_OK = 0
EXIT_INVALID = 1  # unreadable, not schema-valid, unsigned, or the signature does not verify
EXIT_USAGE = 2
EXIT_MISMATCH = 3  # valid, but about other code, another contract, a lower level, or not a gate run
EXIT_NOT_CERTIFIED = 4  # valid and matching, but its verdict is not the one required
LEVELS = ("basic", "standard", "strict")


def load_verified(
    path: str, public_key: str | None, *, allow_unsigned: bool, prog: str
) -> dict[str, Any] | None:
    """The statement of a certificate whose signature verifies (or, if allowed, any schema-valid
    one); None after printing why not."""
    try:
        env, doc = read_certificate(Path(path))
        if public_key:
            verify(env, load_public(Path(public_key)))
        elif not allow_unsigned:
            raise SigningError(
                "give --public-key to check the signature (or --allow-unsigned to check only the schema)"
            )
    except SigningError as exc:
        print(f"{prog}: {path}: {exc}", file=sys.stderr)
        return None
    doc["_signed"] = bool(env["signatures"])
    return doc


def gate_checks(
    doc: dict[str, Any],
    *,
    connector: str | None = None,
    contract: str | None = None,
    contract_digest: str | None = None,
    level: str | None = None,
    require_gate: bool = False,
) -> list[str]:
    """Why this certificate does not answer the gate's question (empty when it does)."""
    from harness.report.digest import file_sha256

    predicate = doc["predicate"]
    problems = []
    if level is not None and LEVELS.index(predicate["cert_level"]) < LEVELS.index(level):
        problems.append(f"certified at level {predicate['cert_level']}, below the required {level}")
    recorded = predicate["contract"]["digest"]["sha256"]
    if contract_digest is not None and contract_digest.removeprefix("sha256:") != recorded:
        problems.append(f"made against contract sha256:{recorded}, not sha256:{contract_digest}")
    if contract is not None:
        try:
            actual = file_sha256(Path(contract))
        except OSError as exc:
            problems.append(f"cannot read the contract {contract}: {exc.strerror}")
        else:
            if actual != recorded:
                problems.append(
                    f"made against another contract (sha256:{recorded}) than {contract} (sha256:{actual})"
                )
    if connector is not None:
        problems += _connector_problems(doc, connector, contract)
    if require_gate and not predicate.get("gate"):
        problems.append(
            "not made by `harness certify` (a `pytest --connector` run can be configured by its tree)"
        )
    return problems


def _connector_problems(doc: dict[str, Any], connector: str, contract: str | None) -> list[str]:
    """Recompute the subject digest over the code at `connector` and compare."""
    from harness.connectors import ManifestError, resolve_connector
    from harness.contract import ContractError, default_contract_path, load
    from harness.report.digest import code_digest

    predicate = doc["predicate"]
    recorded_contract = Path(predicate["contract"]["file"])
    contract_file = (
        Path(contract)
        if contract
        else (recorded_contract if recorded_contract.is_file() else default_contract_path())
    )
    try:
        manifest = resolve_connector(connector, Path.cwd(), load(contract_file))
    except (ManifestError, ContractError) as exc:
        return [f"cannot read the connector at {connector}: {exc}"]
    recorded_inputs = predicate["connector"].get("inputs", [])
    digest = code_digest(manifest, excluded={p["label"]: p.get("excluded", []) for p in recorded_inputs})
    subject = doc["subject"][0]["digest"]["sha256"]
    if digest["sha256"] == subject:
        return []
    recorded = {p["label"]: p["sha256"] for p in recorded_inputs}
    differ = [p["label"] for p in digest["inputs"] if recorded.get(p["label"]) != p["sha256"]]
    differ += [label for label in recorded if label not in {p["label"] for p in digest["inputs"]}]
    where = f" ({', '.join(differ)} differ)" if differ else ""
    return [
        f"is about other code: {connector} has digest sha256:{digest['sha256']}, the certificate "
        f"sha256:{subject}{where}"
    ]


def verify_command(
    path: str,
    public_key: str | None,
    allow_unsigned: bool,
    *,
    require_verdict: str | None = None,
    require_level: str | None = None,
    contract_digest: str | None = None,
    contract: str | None = None,
    connector: str | None = None,
    require_gate: bool = False,
) -> int:
    """0: intact and every requirement met; 1 invalid; 3 mismatched; 4 not the required verdict."""
    doc = load_verified(path, public_key, allow_unsigned=allow_unsigned, prog="harness cert verify")
    if doc is None:
        return EXIT_INVALID
    predicate = doc["predicate"]
    problems = gate_checks(
        doc,
        connector=connector,
        contract=contract,
        contract_digest=contract_digest,
        level=require_level,
        require_gate=require_gate,
    )
    for problem in problems:
        print(f"harness cert verify: {path}: {problem}", file=sys.stderr)
    if problems:
        return EXIT_MISMATCH
    state = (
        "signature valid"
        if public_key
        else ("signed, signature not checked" if doc["_signed"] else "unsigned")
    )
    print(
        f"{path}: {state}; {predicate['connector']['name']} {predicate['connector']['version']}: "
        f"{predicate['verdict']} ({predicate['cert_level']}, seed {predicate['seed']})"
    )
    if require_verdict is not None and predicate["verdict"] != require_verdict:
        print(
            f"harness cert verify: {path}: the verdict is {predicate['verdict']!r}, not {require_verdict!r}",
            file=sys.stderr,
        )
        return EXIT_NOT_CERTIFIED
    return EXIT_OK


def keygen_command(out: str) -> int:
    try:
        private, public = generate(Path(out))
    except SigningError as exc:
        print(f"harness keygen: {exc}", file=sys.stderr)
        return 1
    print(f"private key: {private} (keep it secret; only `harness certify --signing-key` reads it)")
    print(f"public key:  {public} (give it to whoever verifies: harness cert verify --public-key)")
    return 0
