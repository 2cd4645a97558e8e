"""The `harness` command: init, checks, certify, cert, replay, keygen, fuzz, contract lint, sandbox, image."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="harness",
        description="connector-harness: certify connectors against a sandboxed platform API.",
        epilog="Certification itself runs under pytest: pytest --connector=PATH",
    )
    from harness import __version__

    parser.add_argument("--version", action="version", version=f"connector-harness {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    init = commands.add_parser(
        "init",
        help="scaffold a connector for a contract (certifies at basic level as generated)",
        description="Write connector.toml, the connector, a README and a CI workflow into DIR. The "
        "generated connector syncs every collection of the contract and passes the basic level; "
        "TODO comments name the checks of the higher levels and where to build for them.",
    )
    kind = init.add_mutually_exclusive_group()
    kind.add_argument("--python", dest="kind", action="store_const", const="python", help="a Python class")
    kind.add_argument(
        "--command", dest="kind", action="store_const", const="command", help="a command speaking JSON lines"
    )
    init.add_argument("--contract", metavar="FILE", help="the platform contract (default: the bundled one)")
    init.add_argument("--name", help="the connector's name (default: the folder's name)")
    init.add_argument("dir", metavar="DIR", help="the folder to create (must be empty or absent)")
    checks = commands.add_parser("checks", help="list the certification checks")
    checks.add_argument(
        "--level",
        choices=("basic", "standard", "strict"),
        default="strict",
        help="only the checks up to this level (default: strict, every check)",
    )
    contract = commands.add_parser("contract", help="work with OpenAPI contracts")
    contract_commands = contract.add_subparsers(dest="action", metavar="ACTION")
    lint = contract_commands.add_parser(
        "lint",
        help="a contract's certification checklist; exit 1 on errors",
        description="Validate the document against the OpenAPI schema, resolve every $ref, report what "
        "the sandbox infers from it, and list every check of the catalogue: whether it will apply and, "
        "where it will not, the x-sandbox hint or contract change that closes the gap. Exit 1 on errors "
        "(with --strict, on warnings too).",
    )
    lint.add_argument("file", help="the contract, YAML or JSON")
    lint.add_argument(
        "--format",
        dest="fmt",
        choices=("text", "json"),
        default="text",
        help="text (default) or one JSON document for CI (shape: contracts/lint.schema.json)",
    )
    lint.add_argument(
        "--level",
        choices=("basic", "standard", "strict"),
        default="strict",
        help="list the checks up to this certification level (default: strict, every check)",
    )
    lint.add_argument("--strict", action="store_true", help="exit 1 on warnings too, not only on errors")

    sandbox = commands.add_parser("sandbox", help="run the mock platform")
    sandbox_commands = sandbox.add_subparsers(dest="action", metavar="ACTION")
    serve = sandbox_commands.add_parser(
        "serve",
        help="serve a sandbox over HTTP until interrupted",
        description="Serve the contract's API per tenant under /t/<tenant> and the control API under "
        "/_sandbox. Prints the URL, the admin token and a line saying ready.",
    )
    serve.add_argument(
        "--contract",
        metavar="FILE",
        default=os.environ.get("HARNESS_CONTRACT") or None,
        help="OpenAPI contract (default: $HARNESS_CONTRACT, else the bundled reference)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    serve.add_argument(
        "--port", type=_port, default=8765, help="port, 0..65535 (default: 8765; 0 picks a free one)"
    )
    serve.add_argument(
        "--admin-token",
        metavar="TOKEN",
        default=os.environ.get("HARNESS_ADMIN_TOKEN") or None,
        help="bearer token for the control API (default: $HARNESS_ADMIN_TOKEN, else generated and printed)",
    )
    serve.add_argument(
        "--seed",
        type=int,
        help="seed for tenants created without one (default: $HARNESS_SEED, else 0)",
    )
    serve.add_argument(
        "--store",
        metavar="URL",
        default=os.environ.get("HARNESS_STORE") or None,
        help="where tenants live: memory (default), or redis://host:port/db so many replicas share them "
        "(default: $HARNESS_STORE)",
    )
    serve.add_argument(
        "--tenant-ttl",
        type=_positive,
        metavar="SECONDS",
        help="a tenant is deleted this long after it was made (default: a week; a tenant's own ttl wins)",
    )
    serve.add_argument(
        "--workers",
        type=_positive,
        default=os.environ.get("HARNESS_WORKERS") or "1",
        metavar="N",
        help="worker processes on one port (default: $HARNESS_WORKERS, else 1); more than one needs "
        "--store redis://..., since each worker is its own process",
    )
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)  # set for workers
    serve.add_argument(
        "--tenant-quota",
        type=_positive,
        metavar="N",
        help="how many tenants one admin token may hold at once (default: no limit)",
    )
    serve.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a certificate from a CA made for this run (its file is printed)",
    )
    serve.add_argument(
        "--tls-cert",
        metavar="PEM",
        default=os.environ.get("HARNESS_TLS_CERT") or None,
        help="serve HTTPS with this certificate chain (with --tls-key; default: $HARNESS_TLS_CERT)",
    )
    serve.add_argument(
        "--tls-key", metavar="PEM", default=os.environ.get("HARNESS_TLS_KEY") or None, help="its private key"
    )
    serve.add_argument(
        "--root-tenant",
        action="store_true",
        help="make one tenant at start and serve its API at / of the port too, for clients that can "
        "set only host and port (stripe-python's suite, written for stripe-mock); prints its credentials",
    )
    serve.add_argument(
        "--root-secret",
        metavar="SECRET",
        help="with --root-tenant: its client secret, the key such a suite hard-codes (e.g. sk_test_123)",
    )
    serve.add_argument(
        "--tidy",
        action="store_true",
        help="with --root-tenant: the tidy platform (the control API's adversarial=false): every optional "
        "field present, no shaped answers, as a static mock's fixtures are",
    )
    serve.add_argument(
        "--lenient-ids",
        action="store_true",
        help="with --root-tenant: an unknown id of the right shape (cus_123) is a record made for it and "
        "kept, as stripe-mock answers any id (one deleted earlier is made anew)",
    )

    image = commands.add_parser("image", help="the sandbox's container image")
    image_commands = image.add_subparsers(dest="action", metavar="ACTION")
    build = image_commands.add_parser(
        "build",
        help="build the sandbox image from this project's Dockerfile",
        description="Build a wheelhouse of the harness and its dependencies on this machine (pip wheel), "
        "then `docker build` the project's Dockerfile from it: the build itself needs no network.",
    )
    build.add_argument(
        "--base-image",
        metavar="IMG",
        help="base image with python3 and python3-venv (default: the Dockerfile's, python:3.11-slim)",
    )
    build.add_argument("--tag", metavar="T", help="image tag (default: the one --sandbox=container runs)")
    _add_gate_commands(commands)
    from harness.fuzz.command import add_parser as add_fuzz

    fuzz = add_fuzz(commands)
    args = parser.parse_args(argv)
    gate = _run_gate_command(args)
    if gate is not None:
        return gate
    if args.command == "init":
        from harness.scaffold import ScaffoldError, scaffold

        try:
            written = scaffold(
                Path(args.dir), kind=args.kind or "python", contract=args.contract, name=args.name
            )
        except ScaffoldError as exc:
            init.error(str(exc))
        for path in written:
            print(f"wrote {path}")
        print(f"next: pytest --connector={args.dir} --cert-level=basic")
        return 0
    if args.command == "checks":
        return _list_checks(args.level)
    if args.command == "fuzz":
        from harness.fuzz.command import run as run_fuzz

        return run_fuzz(args, fuzz)
    if args.command == "contract" and args.action == "lint":
        from harness.lint import lint_command

        return lint_command(args.file, fmt=args.fmt, level=args.level, strict=args.strict)
    if args.command == "sandbox" and args.action == "serve":
        from harness.serve import RootTenant, serve_command

        seed = args.seed
        if seed is None and os.environ.get("HARNESS_SEED"):
            try:
                seed = int(os.environ["HARNESS_SEED"])
            except ValueError:
                serve.error(f"HARNESS_SEED must be an integer, not {os.environ['HARNESS_SEED']!r}")
        if bool(args.tls_cert) != bool(args.tls_key):
            serve.error("--tls-cert and --tls-key go together (or neither)")
        certificate = (Path(args.tls_cert), Path(args.tls_key)) if args.tls_cert else None
        if (args.root_secret is not None or args.lenient_ids or args.tidy) and not args.root_tenant:
            serve.error("--root-secret, --tidy and --lenient-ids describe the root tenant: add --root-tenant")
        if args.root_tenant and args.workers > 1:
            serve.error("--root-tenant needs one process (each worker would make its own): drop --workers")
        root = RootTenant(args.root_secret, args.lenient_ids, args.tidy) if args.root_tenant else None
        return serve_command(
            args.contract,
            args.host,
            args.port,
            args.admin_token,
            seed,
            store=args.store,
            tenant_ttl=args.tenant_ttl,
            tenant_quota=args.tenant_quota,
            workers=args.workers,
            reuse_port=args.reuse_port,
            tls=args.tls,
            certificate=certificate,
            root=root,
        )
    if args.command == "image" and args.action == "build":
        from harness.image import build_command

        return build_command(args.base_image, args.tag)
    parser.print_help(sys.stderr if args.command is None else sys.stdout)
    return 2


def _add_gate_commands(commands: argparse._SubParsersAction) -> None:
    """`certify`, `cert verify`, `keygen`, `replay`: the gate and its certificates."""
    certify = commands.add_parser(
        "certify",
        help="the CI gate: certify a connector; exit 0 only if certified",
        description="Runs the certification in a pytest subprocess that loads nothing from the connector's "
        "tree (no conftest.py, ini file, pyproject section, addopts or plugin autoloading), then signs the "
        "certificate in this process after every connector process has ended. Exit status: 0 certified, "
        "1 not certified, 2 usage error, 3 incomplete, 4 no certificate (the run broke).",
    )
    certify.add_argument("connector", metavar="PATH", help="connector.toml or the folder holding it")
    certify.add_argument(
        "--contract", metavar="FILE", help="the platform contract (default: the bundled one)"
    )
    certify.add_argument("--level", default="standard", choices=("basic", "standard", "strict"))
    certify.add_argument(
        "--sandbox", default="embedded", metavar="KIND", help="embedded, container or url:..."
    )
    certify.add_argument("--seed", type=int, help="seed (default: random, recorded in the certificate)")
    certify.add_argument("--checks", metavar="IDS", help="run only these (the verdict is then incomplete)")
    certify.add_argument("--connector-timeout", type=float, metavar="S", help="seconds per connector call")
    certify.add_argument(
        "--report", default="cert.json", metavar="PATH", help="the certificate (default cert.json)"
    )
    certify.add_argument("--html", metavar="PATH", help="also write the HTML page")
    certify.add_argument("--md", metavar="PATH", help="also write the Markdown summary")
    certify.add_argument("--junitxml", metavar="PATH", help="also write JUnit XML")
    certify.add_argument(
        "--signing-key",
        metavar="PEM",
        default=os.environ.get("HARNESS_SIGNING_KEY") or None,
        help="Ed25519 private key file (default: $HARNESS_SIGNING_KEY, a path or the PEM); "
        "read only after the run ended; without one the certificate is unsigned",
    )

    cert = commands.add_parser("cert", help="certificates written by harness certify / --cert-report")
    cert_commands = cert.add_subparsers(dest="action", metavar="ACTION")
    verify = cert_commands.add_parser(
        "verify",
        help="check a certificate's signature, schema and the gate's requirements",
        description="Checks the DSSE envelope's Ed25519 signature with the public key and the statement "
        "against contracts/certificate.schema.json, then the gate options. Exit status: 0 valid and every "
        "requirement met, 1 invalid (unreadable, schema, unsigned, bad signature), 2 usage error, "
        "3 mismatched (other code, contract or a lower level), 4 not the required verdict.",
    )
    verify.add_argument("file", help="the certificate (cert.json)")
    verify.add_argument("--public-key", metavar="PEM", help="the signer's public key (from harness keygen)")
    verify.add_argument("--allow-unsigned", action="store_true", help="only check the schema")
    verify.add_argument(
        "--require-verdict",
        choices=("certified", "not certified", "incomplete"),
        help="exit 4 unless the verdict is this one (a gate gives certified)",
    )
    verify.add_argument(
        "--require-level", choices=("basic", "standard", "strict"), help="at least this level"
    )
    verify.add_argument(
        "--contract-digest", metavar="SHA256", help="the contract's sha256 it must be made against"
    )
    verify.add_argument("--contract", metavar="FILE", help="the contract file it must be made against")
    verify.add_argument(
        "--connector",
        metavar="PATH",
        help="recompute the subject digest over this connector; exit 3 if it differs",
    )
    verify.add_argument(
        "--require-gate", action="store_true", help="exit 3 unless it was made by `harness certify`"
    )

    keygen = commands.add_parser("keygen", help="write an Ed25519 key pair for signing certificates")
    keygen.add_argument("--out", default=".", metavar="DIR", help="folder for the .pem and .pub.pem files")

    replay = commands.add_parser(
        "replay",
        help="re-run a certification from its certificate (same seed, level, runtime) on code you name",
        description="Verifies the certificate's signature first, then re-runs it on the connector given "
        "with --connector (which must have the certificate's digest), the way harness certify runs it. "
        "Extra arguments after -- go to pytest. Exit status: pytest's, or 1 invalid, 2 usage, 3 mismatched.",
    )
    replay.add_argument("file", help="the certificate (cert.json)")
    replay.add_argument("--public-key", metavar="PEM", help="the signer's public key (required)")
    replay.add_argument("--connector", metavar="PATH", help="the connector to replay on (required)")
    replay.add_argument("--contract", metavar="FILE", help="the contract (must have the recorded digest)")
    replay.add_argument("--check", metavar="ID", help="re-run only this check, e.g. INT-03")
    replay.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")


def _run_gate_command(args: argparse.Namespace) -> int | None:
    if args.command == "certify":
        from pathlib import Path

        from harness.certify import GateRun, certify_command

        run = GateRun(
            connector=Path(args.connector).resolve(),
            contract=Path(args.contract).resolve() if args.contract else None,
            level=args.level,
            sandbox=args.sandbox,
            seed=args.seed,
            checks=args.checks,
            call_timeout=args.connector_timeout,
            junitxml=Path(args.junitxml).resolve() if args.junitxml else None,
        )
        return certify_command(
            run,
            report=Path(args.report).resolve(),
            html=Path(args.html).resolve() if args.html else None,
            md=Path(args.md).resolve() if args.md else None,
            signing_key=args.signing_key,
        )
    if args.command == "cert" and args.action == "verify":
        from harness.report.commands import verify_command

        return verify_command(
            args.file,
            args.public_key,
            args.allow_unsigned,
            require_verdict=args.require_verdict,
            require_level=args.require_level,
            contract_digest=args.contract_digest,
            contract=args.contract,
            connector=args.connector,
            require_gate=args.require_gate,
        )
    if args.command == "keygen":
        from harness.report.commands import keygen_command

        return keygen_command(args.out)
    if args.command == "replay":
        from harness.certify import replay_command

        return replay_command(
            args.file, args.public_key, args.connector, args.contract, args.check, args.pytest_args
        )
    return None


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0..65535)") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number: use 0..65535 (0 picks a free one)")
    return port


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def _list_checks(level: str) -> int:
    from harness.checks import REGISTRY

    rows = [(c.id, c.level, c.pillar, c.title) for c in REGISTRY.select(None, level)]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    print(f"{'id':<{widths[0]}}  {'level':<{widths[1]}}  {'pillar':<{widths[2]}}  title")
    for row in rows:
        print(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
