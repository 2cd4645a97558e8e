"""Attacks a connector can try on the harness that runs it, each tried for real: it must fail, and
the harness must stay sound (its checks, environment, memory and process table untouched).

Python connectors run in a worker process and command connectors in their own processes, both
in the clean room of harness/connectors/cleanroom.py; these tests are what that claim means.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

import harness.connectors.protocol
import harness.runtime
from harness.checks import registry
from harness.connectors import CommandConnector, ConnectorFailed, Replica
from harness.connectors.cleanroom import ALLOWED_ENV, STDERR_LINE, STDERR_TAIL
from tests.security.conftest import UNREACHABLE, evil, gone, line_of, manifest

SECRETS = {
    "HARNESS_SIGNING_KEY": "-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----",
    "HARNESS_ADMIN_TOKEN": "admin-s3cret",
    "GITHUB_TOKEN": "ghp_notreal",
    "CI_JOB_TOKEN": "glcbt-notreal",
    "AWS_SECRET_ACCESS_KEY": "notreal",
}
GIVEN = {"HOME", "TMPDIR", "PYTHONDONTWRITEBYTECODE"}  # what the clean room sets itself
NAMES_THE_HARNESS = re.compile(r"harness|sandbox|pytest|canary|cnry|\b(?:ten|cli|cs|at|tok)_", re.I)


def test_a_connector_that_replaces_the_checks_at_import_changes_only_its_own_process(connectors):
    before = [c.id for c in registry.REGISTRY.all()]
    connector = connectors.python(
        evil(
            head="""
            import os
            import harness.checks.registry as registry
            import harness.checks  # every check registers itself ...
            registry.REGISTRY._checks.clear()  # ... and the connector throws them all away
            """,
            init='sink.log("info", "tampered", pid=os.getpid(), left=len(registry.REGISTRY.all()))',
        )
    )
    connector.close()
    assert [c.id for c in registry.REGISTRY.all()] == before
    assert len(before) > 20
    log = connector.sink.logs[0]
    assert log["left"] == 0 and log["pid"] != os.getpid()


ENV_PY = evil(
    head="import os",
    init='sink.log("info", "env", env=dict(os.environ), cwd=os.getcwd(), home=os.path.expanduser("~"))',
)
ENV_CMD = """
print(json.dumps({"type": "LOG", "level": "info", "message": "env", "env": dict(os.environ),
                  "cwd": os.getcwd(), "home": os.path.expanduser("~")}))
"""


@pytest.mark.parametrize("kind", ["python", "command"])
def test_the_connector_environment_holds_no_secret_and_names_no_check(
    tmp_path, connectors, monkeypatch, kind
):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    assert "PYTEST_CURRENT_TEST" in os.environ  # pytest names the running test here
    connector = connectors.of(kind, ENV_PY, ENV_CMD)
    if kind == "command":
        connector.check()
    connector.close()
    seen = connector.sink.logs[0]
    env = seen["env"]
    assert not {*SECRETS, "PYTEST_CURRENT_TEST"} & set(env)
    assert not [k for k in env if k.startswith(("HARNESS_", "PYTEST_"))]
    assert set(env) <= {*ALLOWED_ENV, *GIVEN} | {k for k in env if k.startswith("LC_")}
    assert not any(value in json.dumps(env) for value in SECRETS.values())
    assert not [k for k, v in env.items() if k != "PATH" and NAMES_THE_HARNESS.search(v)]
    assert seen["home"] != os.path.expanduser("~") and not NAMES_THE_HARNESS.search(seen["home"])
    assert not Path(seen["home"]).exists()  # the private HOME is removed with the room
    if kind == "python":
        assert seen["cwd"] == seen["home"]  # code is reached through sys.path, not the cwd
    else:
        assert seen["cwd"] == str(tmp_path)  # a command runs from its manifest's folder


def test_the_config_a_connector_gets_looks_like_the_platforms_own(platform_contract):
    """Credentials and base URL carry no prefix or name that tells the sandbox from the
    platform (formats from the contract: harness/sandbox/credentials.py)."""
    with harness.runtime.embedded(platform_contract) as sandbox:
        tenant = sandbox.new_tenant(seed=3)
        config = tenant.connector_config(["contacts:read"])
    assert config["base_url"].endswith(platform_contract.base_path)
    for key in ("base_url", "token_url", "client_id", "client_secret"):
        assert not NAMES_THE_HARNESS.search(config[key]), (key, config[key])


PROC_PY = evil(
    head="import ctypes, os",
    sync="""
    ppid = os.getppid()  # the harness, or the process that forked this worker: its parent
    with open(f"/proc/{ppid}/environ", "rb") as f:
        if b"HARNESS_ADMIN_TOKEN" not in f.read():
            with open(f"/proc/{ppid}/stat") as stat:
                ppid = int(stat.read().rpartition(")")[2].split()[1])
    outcome = {"ppid": ppid}
    for name in ("environ", "mem", "cmdline"):
        try:
            with open(f"/proc/{ppid}/{name}", "rb") as f:
                f.read(64)
            outcome[name] = "read"
        except OSError as exc:
            outcome[name] = type(exc).__name__
    libc = ctypes.CDLL(None, use_errno=True)
    outcome["ptrace"] = libc.ptrace(16, ppid, None, None)  # PTRACE_ATTACH
    self.sink.log("info", "proc", **outcome)
    """,
)


def test_the_harness_memory_environment_and_ptrace_are_closed_to_the_connector(connectors, monkeypatch):
    monkeypatch.setenv("HARNESS_ADMIN_TOKEN", "admin-s3cret")
    connector = connectors.python(PROC_PY)
    connector.sync(None)
    connector.close()
    seen = connector.sink.logs[0]
    assert seen["ppid"] == os.getpid()  # it did aim at the harness
    assert seen["environ"] == "PermissionError"
    assert seen["mem"] == "PermissionError"
    assert seen["ptrace"] == -1
    assert seen["cmdline"] == "read"  # an ordinary world-readable file: the probe itself works


def test_os_exit_in_sync_fails_the_call_with_where_it_was_called_and_the_harness_goes_on(connectors):
    source = evil(head="import os", check='self.sink.log("info", "alive")', sync="os._exit(0)")
    connector = connectors.python(source)
    with pytest.raises(ConnectorFailed, match=r"called os._exit \(exit status 0\) during the call") as info:
        connector.sync(None)
    where = f'evil.py", line {line_of(source, "os._exit(0)")}, in sync'
    assert where in info.value.traceback_text
    assert where in str(info.value)  # the report's message says where
    connector.check()  # the next call gets a fresh worker
    connector.close()
    assert [e["message"] for e in connector.sink.logs] == ["alive"]


def test_a_non_daemon_thread_does_not_keep_the_worker_or_the_harness_alive(connectors):
    connector = connectors.python(
        evil(
            head="import os, threading, time",
            sync="""
            threading.Thread(target=time.sleep, args=(600,), daemon=False).start()
            self.sink.log("info", "worker", pid=os.getpid())
            """,
        )
    )
    connector.sync(None)
    pid = connector.sink.logs[0]["pid"]
    assert not gone(pid)
    connector.close()
    assert gone(pid)


SETSID_PY = evil(
    head="import os, subprocess, sys",
    sync="""
    # a child in a session of its own, and a grandchild orphaned by a double fork
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                             start_new_session=True)
    shell = subprocess.run(["sh", "-c", "setsid sleep 600 >/dev/null 2>&1 & echo $!"],
                           capture_output=True, text=True)
    self.sink.log("info", "spawned", pids=[child.pid, int(shell.stdout)])
    """,
)
SETSID_CMD = """
import subprocess
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
shell = subprocess.run(["sh", "-c", "setsid sleep 600 >/dev/null 2>&1 & echo $!"],
                       capture_output=True, text=True)
pids = [child.pid, int(shell.stdout)]
print(json.dumps({"type": "LOG", "level": "info", "message": "spawned", "pids": pids}))
"""


@pytest.mark.parametrize("kind", ["python", "command"])
def test_setsid_children_and_orphaned_grandchildren_end_with_the_call(connectors, kind):
    connector = connectors.of(kind, SETSID_PY, SETSID_CMD)
    connector.sync(None)
    pids = connector.sink.logs[0]["pids"]
    assert len(pids) == 2
    assert all(gone(pid) for pid in pids), [p for p in pids if not gone(p)]


def test_a_stdout_flood_fails_the_call_at_the_cap(connectors, monkeypatch):
    monkeypatch.setattr(harness.connectors.protocol, "MAX_OUTPUT", 4 << 20)
    connector = connectors.command(
        """
        line = " " * 65535 + "\\n"
        while True:
            sys.stdout.write(line)
        """
    )
    with pytest.raises(ConnectorFailed, match=r"more than 4 MiB on stdout in one call"):
        connector.sync(None)


def test_a_log_flood_from_a_python_connector_fails_the_call(connectors):
    connector = connectors.python(evil(sync='while True:\n    self.sink.log("info", "again")'))
    with pytest.raises(ConnectorFailed, match=r"more than 20000 log messages"):
        connector.sync(None)
    connector.close()
    assert len(connector.sink.logs) == harness.connectors.protocol.MAX_LOGS


def test_a_stderr_flood_keeps_only_a_bounded_tail(connectors):
    connector = connectors.python(
        evil(
            head="import sys",
            init="pass",
            sync="""
            sys.stderr.write("x" * (8 << 20))
            sys.stderr.write("\\nline\\n" * 5000)
            """,
        )
    )
    connector.sync(None)
    stderr = connector.diagnostics().stderr
    assert len(stderr) <= STDERR_TAIL
    assert all(len(line) <= STDERR_LINE + len(" [cut]") for line in stderr)


PROBE = (
    "import harness.connectors.worker, sys; "
    "print(sorted(m for m in sys.modules if m.split('.')[0] == 'harness'))"
)


def test_the_worker_is_a_real_module(tmp_path):
    """`python -m harness.connectors.worker` imports only the standard library, not the harness."""
    import subprocess

    probe = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "['harness', 'harness.connectors', 'harness.connectors.worker']"


SHELL_CONNECTOR = """#!/bin/sh
config="$3"
if cat /proc/$PPID/environ >/dev/null 2>&1; then environ=read; else environ=denied; fi
printf '{"type": "LOG", "level": "info", "message": "who", "uid": %s, "environ": "%s", "config": %s}\\n' \\
  "$(id -u)" "$environ" "$(cat "$config")"
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="a connector changes user only when the harness is root")
def test_as_root_a_connector_reachable_by_nobody_runs_as_nobody_and_still_reads_its_config(tmp_path):
    import pwd
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="harness-test-"))  # /tmp itself is world-searchable
    try:
        folder.chmod(0o755)
        script = folder / "conn.sh"
        script.write_text(SHELL_CONNECTOR)
        script.chmod(0o755)
        described = manifest(folder, command=("./conn.sh",))
        connector = CommandConnector(described, UNREACHABLE, Replica(), 20)
        connector.check()
        connector.close()
    finally:
        import shutil

        shutil.rmtree(folder)
    seen = connector.sink.logs[0]
    assert seen["uid"] == pwd.getpwnam("nobody").pw_uid
    assert seen["config"] == UNREACHABLE  # its private config file is readable
    assert seen["environ"] == "denied"
