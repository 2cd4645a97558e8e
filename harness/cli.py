"""The `harness` command: `harness contract lint FILE`, and more as the product grows."""

from __future__ import annotations

import argparse
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
    serve.add_argument("--contract", metavar="FILE", help="OpenAPI contract (default: the bundled reference)")
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="port (default: 8765; 0 picks a free one)")
    serve.add_argument(
        "--admin-token",
        metavar="TOKEN",
        help="bearer token for the control API (default: generated and printed)",
    )
    serve.add_argument("--seed", type=int, help="seed for tenants created without one (default: 0)")
    args = parser.parse_args(argv)
    if args.command == "contract" and args.action == "lint":
        from harness.lint import lint_command

        return lint_command(args.file)
    if args.command == "sandbox" and args.action == "serve":
        from harness.serve import serve_command

        return serve_command(args.contract, args.host, args.port, args.admin_token, args.seed)
    parser.print_help(sys.stderr if args.command is None else sys.stdout)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
