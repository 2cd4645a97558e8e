from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from harness.connectors import (
    CommandConnector,
    ConnectorFailed,
    ConnectorLoadError,
    ConnectorTimeout,
    Replica,
)
from harness.connectors.command import ProtocolError
from harness.connectors.manifest import Manifest


def connector(
    tmp_path: Path,
    body: str,
    *,
    timeout: float = 20,
    command: tuple[str, ...] | None = None,
    config: dict | None = None,
    **manifest: Any,
) -> tuple[CommandConnector, Replica]:
    """A command connector whose script is `body`; `manifest` adds fields (webhooks, ...)."""
    script = tmp_path / "conn.py"
    script.write_text("import json, sys, os, time\nargs = sys.argv[1:]\n" + textwrap.dedent(body))
    described = Manifest(
        file=str(tmp_path / "connector.toml"),
        root=tmp_path,
        name="t",
        version="1",
        scopes=(),
        streams=("contacts",),
        command=command or ("python3", "conn.py"),
        **manifest,
    )
    replica = Replica()
    settings = {"base_url": "http://x", "page_size": 5} if config is None else config
    return CommandConnector(described, settings, replica, timeout), replica


def test_messages_are_applied_to_the_sink_in_order(tmp_path):
    driver, replica = connector(
        tmp_path,
        """
        config = json.load(open(args[args.index("--config") + 1]))
        state = json.load(open(args[args.index("--state") + 1])) if "--state" in args else None
        out = lambda m: print(json.dumps(m), flush=True)
        out({"type": "LOG", "level": "info", "message": "start", "page_size": config["page_size"]})
        out({"type": "RECORD", "stream": "contacts", "record": {"id": "a", "n": 1}})
        out({"type": "RECORD", "stream": "contacts", "record": {"id": "b", "n": 2}})
        out({"type": "DELETE", "stream": "contacts", "id": "a"})
        out({"type": "STATE", "value": {"resumed_from": state}})
    """,
    )
    driver.sync({"cursor": "c1"})
    assert replica.rows == {"contacts": {"b": {"id": "b", "n": 2}}}
    assert [op.kind for op in replica.operations] == ["upsert", "upsert", "delete"]
    assert replica.state == {"resumed_from": {"cursor": "c1"}}
    assert replica.logs == [{"level": "info", "message": "start", "page_size": 5}]


def test_push_sends_record_lines_on_stdin(tmp_path):
    driver, replica = connector(
        tmp_path,
        """
        stream = args[args.index("--stream") + 1]
        got = [json.loads(line) for line in sys.stdin]
        print(json.dumps({"type": "LOG", "level": "info", "message": "got", "stream": stream, "n": len(got),
                          "first": got[0]["record"]["id"]}))
    """,
    )
    driver.push("contacts", [{"id": "x"}, {"id": "y"}])
    assert replica.logs == [{"level": "info", "message": "got", "stream": "contacts", "n": 2, "first": "x"}]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("hello world", "stdout line 2 is not JSON: 'hello world"),
        ('{"type": "RECROD"}', "unknown message type 'RECROD'"),
        ('{"type": "RECORD", "stream": "contacts"}', "a RECORD message needs 'record'"),
        ('{"type": "RECORD", "stream": "contacts", "record": [1]}', "takes a dict record"),
    ],
)
def test_garbage_on_stdout_fails_the_call_naming_the_line(tmp_path, line, words):
    driver, _ = connector(
        tmp_path,
        f"""
        print(json.dumps({{"type": "LOG", "message": "ok"}}))
        print({line!r}, flush=True)
        time.sleep(30)
    """,
    )
    with pytest.raises(ConnectorFailed) as info:
        driver.sync(None)
    assert words in str(info.value)
    assert isinstance(info.value.error, ProtocolError | TypeError)


def test_a_failing_exit_quotes_stderr(tmp_path):
    driver, _ = connector(
        tmp_path,
        """
        print("token endpoint said 401", file=sys.stderr)
        sys.exit(3)
    """,
    )
    with pytest.raises(ConnectorFailed, match="exited with status 3") as info:
        driver.check()
    assert "token endpoint said 401" in info.value.traceback_text
    assert "stderr: token endpoint said 401" in str(info.value)  # what the report shows


def test_a_python_command_that_crashes_says_where(tmp_path):
    driver, _ = connector(tmp_path, "raise KeyError('cursor')\n")
    with pytest.raises(ConnectorFailed) as info:
        driver.sync(None)
    assert 'conn.py", line 3, in <module>' in str(info.value)


def test_a_hanging_connector_is_killed_with_its_children(tmp_path):
    pid_file = tmp_path / "child.pid"
    driver, _ = connector(
        tmp_path,
        f"""
        import subprocess
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(pid_file)!r}, "w").write(str(child.pid))
        time.sleep(60)
    """,
        timeout=2,
    )
    with pytest.raises(ConnectorTimeout, match="did not finish within 2 s"):
        driver.sync(None)
    child = int(pid_file.read_text())
    for _ in range(50):  # the kill is immediate; reaping by init may take a moment
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        if Path(f"/proc/{child}/stat").read_text().split()[2] == "Z":
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"child process {child} survived the timeout")


def test_a_missing_executable_is_a_load_error(tmp_path):
    driver, _ = connector(tmp_path, "", command=("./no-such-binary",))
    with pytest.raises(ConnectorLoadError, match="cannot run"):
        driver.check()


def test_the_config_file_holds_the_tenant_config(tmp_path):
    driver, replica = connector(
        tmp_path,
        """
        config = json.load(open(args[args.index("--config") + 1]))
        print(json.dumps({"type": "STATE", "value": config}))
    """,
    )
    driver.sync(None)
    assert replica.state == {"base_url": "http://x", "page_size": 5}
    assert json.dumps(replica.state)


# -- webhooks: `CMD serve --config FILE --port N` ---------------------------------------------------

SERVE = """
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
assert args[0] == "serve", args
config = json.load(open(args[args.index("--config") + 1]))
port = int(args[args.index("--port") + 1])
if config.get("crash"):
    sys.exit("cannot serve: " + config["crash"])

class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/hooks" or self.headers.get("webhook-signature") != config["webhook_secret"]:
            self.send_response(401)
        else:
            for n in range(body["n"]):
                record = {"type": "RECORD", "stream": "contacts", "record": {"id": f"c{n}"}}
                print(json.dumps(record), flush=True)
            print(json.dumps({"type": "DELETE", "stream": "contacts", "id": "c0"}), flush=True)
            self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

print("listening", file=sys.stderr, flush=True)
ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


def serve_connector(tmp_path: Path, config: dict) -> tuple[CommandConnector, Replica]:
    return connector(tmp_path, SERVE, config=config, webhooks=("contact.created",), webhook_path="/hooks")


def test_webhooks_go_to_serve_and_its_messages_reach_the_sink_before_the_answer(tmp_path):
    driver, replica = serve_connector(tmp_path, {"webhook_secret": "s3cret"})
    try:
        for n in (3, 50):  # the messages of each delivery are applied by the time it returns
            assert (
                driver.handle_webhook({"webhook-signature": "s3cret"}, json.dumps({"n": n}).encode()) == 204
            )
            assert sorted(replica.rows["contacts"]) == sorted(f"c{i}" for i in range(1, n))
        assert driver.handle_webhook({"webhook-signature": "nope"}, b'{"n": 1}') == 401
        assert len(replica.operations) == 3 + 1 + 50 + 1
        server = driver._server
        assert server is not None and server.poll() is None
    finally:
        driver.close()
    assert server.poll() is not None  # close() stops the server (its whole process group)
    driver.close()  # twice is fine


def test_a_serve_that_exits_fails_with_its_stderr(tmp_path):
    driver, _ = serve_connector(tmp_path, {"webhook_secret": "s", "crash": "port taken"})
    with pytest.raises(ConnectorFailed) as failure:
        driver.handle_webhook({}, b"{}")
    assert "before listening" in str(failure.value)
    assert "cannot serve: port taken" in failure.value.traceback_text
    driver.close()


def test_garbage_from_serve_fails_the_delivery(tmp_path):
    driver, _ = serve_connector(tmp_path, {"webhook_secret": "s"})
    script = tmp_path / "conn.py"
    script.write_text(
        script.read_text().replace(
            'print(json.dumps({"type": "DELETE"', 'print("oops"); print(json.dumps({"type": "DELETE"'
        )
    )
    try:
        with pytest.raises(ConnectorFailed, match="not JSON"):
            driver.handle_webhook({"webhook-signature": "s"}, b'{"n": 1}')
    finally:
        driver.close()
