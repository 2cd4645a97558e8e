"""acme-sync as a command connector: the connector protocol over stdin/stdout.

    acme_sync_cli.py check --config FILE
    acme_sync_cli.py sync  --config FILE [--state FILE]
    acme_sync_cli.py push  --config FILE --stream NAME   (RECORD lines on stdin)
    acme_sync_cli.py serve --config FILE --port N        (webhooks: POST /webhooks on 127.0.0.1:N)

Every message is one JSON object on its own stdout line: RECORD, DELETE, STATE or LOG.
Anything else (diagnostics) goes to stderr. Exit status 0 means success. `serve` runs until it
is killed and prints the messages of each delivery before answering it.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# The connector logic is the reference connector's; this file only speaks the protocol.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "acme_sync"))

from acme_sync import AcmeError, AcmeSync

WEBHOOK_PATH = "/webhooks"
MAX_WEBHOOK_BODY = 1 << 20


class StdoutSink:
    """The sink interface, written as protocol messages."""

    _lock = threading.Lock()

    def _emit(self, message: dict[str, Any]) -> None:
        line = json.dumps(message, separators=(",", ":")) + "\n"
        with self._lock:
            sys.stdout.write(line)
            sys.stdout.flush()

    def upsert(self, stream: str, record: dict[str, Any]) -> None:
        self._emit({"type": "RECORD", "stream": stream, "record": record})

    def delete(self, stream: str, record_id: Any) -> None:
        self._emit({"type": "DELETE", "stream": stream, "id": record_id})

    def checkpoint(self, state: Any) -> None:
        self._emit({"type": "STATE", "value": state})

    def log(self, level: str, message: str, **fields: Any) -> None:
        self._emit({"type": "LOG", "level": level, "message": message, **fields})


def diagnostic(level: str, message: str, **fields: Any) -> None:
    """A line on stderr, structured like every log line (OBS-01): one JSON object."""
    print(json.dumps({"level": level, "message": message, **fields}), file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="acme_sync_cli")
    parser.add_argument("command", choices=["check", "sync", "push", "serve"])
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--state", type=Path)
    parser.add_argument("--stream")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    config = json.loads(args.config.read_text())
    state = json.loads(args.state.read_text()) if args.state else None
    connector = AcmeSync(config, StdoutSink())
    try:
        if args.command == "serve":
            serve(connector, args.port)
        elif args.command == "check":
            connector.check()
        elif args.command == "sync":
            connector.sync(state)
        else:
            records = [json.loads(line)["record"] for line in sys.stdin if line.strip()]
            connector.push(args.stream, records)
    except AcmeError as exc:
        diagnostic("error", "acme-sync failed", error=str(exc))
        return 1
    finally:
        connector.close()
    return 0


def serve(connector: AcmeSync, port: int) -> None:
    """Take webhook deliveries on 127.0.0.1:port until killed; one delivery at a time."""
    applying = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path.split("?", 1)[0] != WEBHOOK_PATH:
                return self._answer(404)
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                return self._answer(400)
            if not 0 <= length <= MAX_WEBHOOK_BODY:
                return self._answer(413)
            body = self.rfile.read(length)
            try:
                with applying:
                    status = connector.handle_webhook(list(self.headers.items()), body)
            except Exception as exc:  # answer 500 and keep serving; the platform retries
                diagnostic("error", "webhook failed", error=f"{type(exc).__name__}: {exc}")
                status = 500
            self._answer(status)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """No access log: stderr is kept for errors."""

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    diagnostic("info", "serving webhooks", url=f"http://127.0.0.1:{server.server_port}{WEBHOOK_PATH}")
    server.serve_forever()


if __name__ == "__main__":
    raise SystemExit(main())
