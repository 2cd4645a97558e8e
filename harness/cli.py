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
    args = parser.parse_args(argv)
    if args.command == "contract" and args.action == "lint":
        from harness.lint import lint_command

        return lint_command(args.file)
    parser.print_help(sys.stderr if args.command is None else sys.stdout)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
