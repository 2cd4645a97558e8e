"""The `harness` command: `contract lint`, `sandbox serve`, `image build`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="harness",
        description="connector-harness: certify connectors against a sandboxed platform API.",
        epilog="Certification itself runs under pytest: pytest --connector=PATH",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    contract = commands.add_parser("contract", help="work with OpenAPI contracts")
    contract_commands = contract.add_subparsers(dest="action", metavar="ACTION")
    lint = contract_commands.add_parser(
        "lint",
        help="check an OpenAPI 3.0/3.1 contract; exit 1 on any problem",
        description="Validate the document against the OpenAPI schema, resolve every $ref and "
        "report what the sandbox can infer from it (operations, collections, scopes).",
    )
    lint.add_argument("file", help="the contract, YAML or JSON")

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
    serve.add_argument("--port", type=int, default=8765, help="port (default: 8765; 0 picks a free one)")
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
    cert = commands.add_parser("cert", help="certificates written by --cert-report")
    cert_commands = cert.add_subparsers(dest="action", metavar="ACTION")
    verify = cert_commands.add_parser(
        "verify",
        help="check a certificate's signature and schema; exit 1 on any tampering",
        description="Checks the DSSE envelope's Ed25519 signature with the public key and the statement "
        "against contracts/certificate.schema.json. An unsigned certificate never verifies as signed.",
    )
    verify.add_argument("file", help="the certificate (cert.json)")
    verify.add_argument("--public-key", metavar="PEM", help="the signer's public key (from harness keygen)")
    verify.add_argument("--allow-unsigned", action="store_true", help="only check the schema")
    keygen = commands.add_parser("keygen", help="write an Ed25519 key pair for signing certificates")
    keygen.add_argument("--out", default=".", metavar="DIR", help="folder for the .pem and .pub.pem files")
    replay = commands.add_parser(
        "replay",
        help="re-run a certification from its certificate (same connector, contract, runtime, seed)",
        description="Runs pytest again with the settings recorded in the certificate, from the folder "
        "the original run started in. Extra arguments after -- go to pytest.",
    )
    replay.add_argument("file", help="the certificate (cert.json)")
    replay.add_argument("--check", metavar="ID", help="re-run only this check, e.g. INT-03")
    replay.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args(argv)
    if args.command == "cert" and args.action == "verify":
        from harness.report.commands import verify_command

        return verify_command(args.file, args.public_key, args.allow_unsigned)
    if args.command == "keygen":
        from harness.report.commands import keygen_command

        return keygen_command(args.out)
    if args.command == "replay":
        from harness.report.commands import replay_command

        return replay_command(args.file, args.check, args.pytest_args)
    if args.command == "contract" and args.action == "lint":
        from harness.lint import lint_command

        return lint_command(args.file)
    if args.command == "sandbox" and args.action == "serve":
        from harness.serve import serve_command

        seed = args.seed
        if seed is None and os.environ.get("HARNESS_SEED"):
            try:
                seed = int(os.environ["HARNESS_SEED"])
            except ValueError:
                serve.error(f"HARNESS_SEED must be an integer, not {os.environ['HARNESS_SEED']!r}")
        return serve_command(args.contract, args.host, args.port, args.admin_token, seed)
    if args.command == "image" and args.action == "build":
        from harness.image import build_command

        return build_command(args.base_image, args.tag)
    parser.print_help(sys.stderr if args.command is None else sys.stdout)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
