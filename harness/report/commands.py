"""The `harness cert verify`, `harness keygen` and `harness replay` commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.report.certificate import read_certificate
from harness.report.signing import SigningError, generate, load_public, verify


def verify_command(path: str, public_key: str | None, allow_unsigned: bool) -> int:
    """Exit 0 only for an intact certificate: schema-valid, and signed by the key unless allowed."""
    try:
        env, doc = read_certificate(Path(path))
        if public_key:
            verify(env, load_public(Path(public_key)))
        elif not allow_unsigned:
            raise SigningError(
                "give --public-key to check the signature (or --allow-unsigned to check only the schema)"
            )
    except SigningError as exc:
        print(f"harness cert verify: {path}: {exc}", file=sys.stderr)
        return 1
    predicate = doc["predicate"]
    state = (
        "signature valid"
        if public_key
        else ("signed, signature not checked" if env["signatures"] else "unsigned")
    )
    print(
        f"{path}: {state}; {predicate['connector']['name']} {predicate['connector']['version']}: "
        f"{predicate['verdict']} ({predicate['cert_level']}, seed {predicate['seed']})"
    )
    return 0


def keygen_command(out: str) -> int:
    try:
        private, public = generate(Path(out))
    except SigningError as exc:
        print(f"harness keygen: {exc}", file=sys.stderr)
        return 1
    print(f"private key: {private} (keep it secret: HARNESS_SIGNING_KEY={private} or --signing-key)")
    print(f"public key:  {public} (give it to whoever verifies: harness cert verify --public-key)")
    return 0


def replay_command(path: str, check: str | None, extra: list[str]) -> int:
    """Re-run a certified (or failed) run with the same connector, contract, runtime and seed."""
    try:
        _, doc = read_certificate(Path(path))
    except SigningError as exc:
        print(f"harness replay: {path}: {exc}", file=sys.stderr)
        return 1
    predicate = doc["predicate"]
    known = {c["id"] for c in predicate["checks"]} | set(predicate["not_run"])
    if check is not None and check not in known:
        print(
            f"harness replay: {check} is not a check of this certificate ({', '.join(sorted(known))})",
            file=sys.stderr,
        )
        return 2
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        f"--connector={predicate['connector']['spec']}",
        f"--seed={predicate['seed']}",
        f"--sandbox={predicate['sandbox']}",
        f"--cert-level={predicate['cert_level']}",
        f"--contract={predicate['contract']['file']}",
    ]
    if check is not None:
        argv.append(f"--checks={check}")
    print("replaying: " + " ".join(argv[2:] + extra), flush=True)
    return subprocess.call([*argv, *extra], cwd=predicate["rootdir"])
