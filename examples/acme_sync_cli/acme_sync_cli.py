"""acme-sync as a command connector: the connector protocol over stdin/stdout.

    acme_sync_cli.py check --config FILE
    acme_sync_cli.py sync  --config FILE [--state FILE]
    acme_sync_cli.py push  --config FILE --stream NAME   (RECORD lines on stdin)

Every message is one JSON object on its own stdout line: RECORD, DELETE, STATE or LOG.
Anything else (diagnostics) goes to stderr. Exit status 0 means success.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

# The connector logic is the reference connector's; this file only speaks the protocol.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "acme_sync"))

from acme_sync import AcmeError, AcmeSync


class StdoutSink:
    """The sink interface, written as protocol messages."""

    def _emit(self, message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    def upsert(self, stream: str, record: dict[str, Any]) -> None:
        self._emit({"type": "RECORD", "stream": stream, "record": record})

    def delete(self, stream: str, record_id: Any) -> None:
        self._emit({"type": "DELETE", "stream": stream, "id": record_id})

    def checkpoint(self, state: Any) -> None:
        self._emit({"type": "STATE", "value": state})

    def log(self, level: str, message: str, **fields: Any) -> None:
        self._emit({"type": "LOG", "level": level, "message": message, **fields})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="acme_sync_cli")
    parser.add_argument("command", choices=["check", "sync", "push"])
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--state", type=Path)
    parser.add_argument("--stream")
    args = parser.parse_args(argv)
    config = json.loads(args.config.read_text())
    state = json.loads(args.state.read_text()) if args.state else None
    connector = AcmeSync(config, StdoutSink())
    try:
        if args.command == "check":
            connector.check()
        elif args.command == "sync":
            connector.sync(state)
        else:
            records = [json.loads(line)["record"] for line in sys.stdin if line.strip()]
            connector.push(args.stream, records)
    except AcmeError as exc:
        print(f"acme-sync: {exc}", file=sys.stderr)
        return 1
    finally:
        connector.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
