from __future__ import annotations

from pathlib import Path

import pytest

from harness.connectors import (
    ConnectorFailed,
    ConnectorLoadError,
    ConnectorTimeout,
    ManifestError,
    Replica,
    SinkError,
    load_manifest,
    resolve_connector,
)
from harness.connectors.python import PythonConnector
from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "acme_sync"
GOOD = """[connector]
name = "demo"
version = "1.0.0"
python = "demo_connector:Demo"
scopes = ["contacts:read"]
streams = ["contacts"]
"""


def write(tmp_path: Path, text: str, name: str = "connector.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_example_manifest_loads(platform_contract):
    manifest = load_manifest(EXAMPLE / "connector.toml", platform_contract)
    assert (manifest.name, manifest.version, manifest.python) == (
        "acme-sync",
        "1.0.0",
        "acme_sync.connector:AcmeSync",
    )
    assert manifest.streams == ("contacts", "companies", "deals")
    assert manifest.config == {"page_size": 100}
    assert manifest.root == EXAMPLE


@pytest.mark.parametrize("spec", ["examples/acme_sync", "examples/acme_sync/connector.toml", str(EXAMPLE)])
def test_connector_specs_resolve_from_the_rootdir(platform_contract, spec):
    assert resolve_connector(spec, ROOT, platform_contract).name == "acme-sync"


def test_module_and_class_spec_syncs_every_collection_it_can_read(platform_contract):
    manifest = resolve_connector("my_pkg.sync:Acme", ROOT, platform_contract)
    assert manifest.python == "my_pkg.sync:Acme"
    assert set(manifest.streams) == {"contacts", "companies", "deals"}
    assert set(manifest.scopes) == {"contacts:read", "companies:read", "deals:read", "events:read"}


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ('command = ["./run"]\n', "connector", "sets both python and command"),
        ('colour = "red"\n', "connector", "unknown key 'colour'"),
        ('pushs = ["contacts"]\n', "connector", "did you mean 'pushes'?"),
        ('webhooks = ["contact.merged"]\n', "connector.webhooks", "'contact.merged'"),
        ('pushes = ["deals"]\n', "connector.pushes", "'deals'"),
        ('[connector.fields]\ncontcts = ["email"]\n', "connector.fields", "did you mean 'contacts'?"),
        (
            '[connector.fields]\ndeals = ["amount"]\n',
            "connector.fields",
            "'deals', which is not one of its streams",
        ),
        ('[connector.fields]\ncontacts = ["emial"]\n', "connector.fields.contacts", "did you mean 'email'?"),
        ('[connector.fields]\ncontacts = ["email", "email"]\n', "connector.fields.contacts", "non-unique"),
    ],
)
def test_manifest_mistakes_name_the_key_and_the_fix(tmp_path, platform_contract, extra, key, words):
    path = write(tmp_path, GOOD + extra)
    with pytest.raises(ManifestError) as info:
        load_manifest(path, platform_contract)
    assert info.value.key == key
    assert words in str(info.value)
    assert str(path) in str(info.value) and "fix:" in str(info.value)


def test_unknown_scope_and_stream_suggest_the_contract_names(tmp_path, platform_contract):
    path = write(tmp_path, GOOD.replace('"contacts:read"', '"contact:read"'))
    with pytest.raises(ManifestError, match=r"did you mean 'contacts:read'\?"):
        load_manifest(path, platform_contract)
    path = write(tmp_path, GOOD.replace('streams = ["contacts"]', 'streams = ["contcts"]'))
    with pytest.raises(ManifestError, match=r"did you mean 'contacts'\?"):
        load_manifest(path, platform_contract)


def test_neither_python_nor_command_and_broken_toml(tmp_path, platform_contract):
    with pytest.raises(ManifestError, match="sets neither python nor command"):
        load_manifest(
            write(tmp_path, GOOD.replace('python = "demo_connector:Demo"\n', "")), platform_contract
        )
    with pytest.raises(ManifestError, match="is not valid TOML"):
        load_manifest(write(tmp_path, "[connector\nname="), platform_contract)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ManifestError, match=r"holds no connector\.toml"):
        resolve_connector("empty", tmp_path, platform_contract)


def test_replica_keeps_rows_and_every_operation():
    replica = Replica(id_fields={"products": "sku"})
    replica.upsert("contacts", {"id": "a", "n": 1})
    replica.upsert("contacts", {"id": "a", "n": 2})
    replica.upsert("products", {"sku": "S1"})
    replica.delete("contacts", "a")
    replica.checkpoint({"cursor": "x"})
    replica.log("info", "done", count=2)
    assert replica.rows == {"contacts": {}, "products": {"S1": {"sku": "S1"}}}
    assert replica.upserts("contacts") == {"a": 2}
    assert [op.kind for op in replica.operations] == ["upsert", "upsert", "upsert", "delete"]
    assert replica.state == {"cursor": "x"}
    assert replica.logs == [{"level": "info", "message": "done", "count": 2}]


def test_replica_copies_what_it_is_given_and_refuses_garbage():
    replica = Replica()
    record = {"id": "a", "tags": ["x"]}
    replica.upsert("contacts", record)
    record["tags"].append("changed later")
    assert replica.rows["contacts"]["a"]["tags"] == ["x"]
    with pytest.raises(SinkError, match="takes a dict"):
        replica.upsert("contacts", ["not", "a", "dict"])
    with pytest.raises(SinkError, match="without its id field 'id'"):
        replica.upsert("contacts", {"name": "no id"})


WORKER_DEMO = """
import os, sys, time

class Demo:
    def __init__(self, config, sink):
        self.config, self.sink = config, sink

    def check(self):
        print("a print goes to stderr")

    def sync(self, state):
        how = self.config.get("how")
        if how == "hang":
            time.sleep(30)
        if how == "raise":
            raise ValueError("bad page")
        for i in range(3):
            self.sink.upsert("contacts", {"id": f"c{i}", "pid": os.getpid()})
        self.sink.checkpoint({"page": 3})
        self.sink.log("info", "synced", records=3)

    def handle_webhook(self, headers, body):
        self.sink.log("info", "got", body=body.hex(), header=headers.get("webhook-id"))
        return 204
"""


def demo(tmp_path: Path, platform_contract, how: str = "", timeout: float = 30) -> PythonConnector:
    (tmp_path / "demo_connector.py").write_text(WORKER_DEMO)
    manifest = load_manifest(write(tmp_path, GOOD), platform_contract)
    return PythonConnector(manifest, {"how": how}, Replica(), timeout)


def test_a_python_connector_runs_in_a_worker_process_and_its_sink_calls_reach_the_replica(
    tmp_path, platform_contract
):
    import os

    connector = demo(tmp_path, platform_contract)
    try:
        connector.check()
        connector.sync(None)
        assert connector.handle_webhook({"webhook-id": "msg_1"}, b"\xffbody") == 204
        assert connector.capabilities.webhooks and not connector.capabilities.push
        rows = connector.sink.rows["contacts"]
        assert sorted(rows) == ["c0", "c1", "c2"]
        assert {r["pid"] for r in rows.values()} != {os.getpid()}  # not this process
        assert connector.sink.state == {"page": 3}
        assert connector.sink.logs[0] == {"level": "info", "message": "synced", "records": 3}
        assert connector.sink.logs[1]["header"] == "msg_1" and connector.sink.logs[1]["body"] == "ff626f6479"
        assert "a print goes to stderr" in connector.diagnostics().stderr
    finally:
        connector.close()


def test_calls_run_under_a_time_limit_and_failures_keep_their_traceback(tmp_path, platform_contract):
    hanging = demo(tmp_path, platform_contract, "hang", timeout=0.5)
    with pytest.raises(ConnectorTimeout, match=r"sync\(state\) did not finish within 0.5 s"):
        hanging.sync(None)
    hanging.close()
    raising = demo(tmp_path, platform_contract, "raise")
    with pytest.raises(ConnectorFailed) as info:
        raising.sync(None)
    raising.close()
    assert "ValueError: bad page" in str(info.value)
    assert 'demo_connector.py", line 16, in sync' in info.value.traceback_text
    assert 'raise ValueError("bad page")' in info.value.traceback_text


def test_a_connector_that_cannot_be_imported_is_a_clear_error(tmp_path, platform_contract):
    path = write(tmp_path, GOOD)
    manifest = load_manifest(path, platform_contract)
    with pytest.raises(ConnectorLoadError, match=r"cannot import 'demo_connector'.*looked up from"):
        PythonConnector(manifest, {}, Replica())
    (tmp_path / "demo_connector.py").write_text("class Other:\n    pass\n")
    with pytest.raises(ConnectorLoadError, match="has no 'Demo'"):
        PythonConnector(manifest, {}, Replica())
    (tmp_path / "demo_connector.py").write_text("import os\nraise ImportError('no sdk')\n")
    with pytest.raises(
        ConnectorLoadError, match=r'ImportError: no sdk\) at File ".*demo_connector.py", line 2'
    ):
        PythonConnector(manifest, {}, Replica())


def test_fields_load_per_stream(tmp_path, platform_contract):
    path = write(tmp_path, GOOD + '[connector.fields]\ncontacts = ["email", "updated_at"]\n')
    assert load_manifest(path, platform_contract).fields == {"contacts": ("email", "updated_at")}
    path.write_text(GOOD)
    assert load_manifest(path, platform_contract).fields == {}


def test_both_kinds_implement_the_driver_protocol(tmp_path, platform_contract):
    from harness.connectors import CommandConnector, Driver
    from harness.connectors.manifest import Manifest

    python = demo(tmp_path, platform_contract)
    command = CommandConnector(
        Manifest(
            file="c.toml", root=tmp_path, name="c", version="1", scopes=(), streams=(), command=("true",)
        ),
        {},
        Replica(),
    )
    try:
        assert isinstance(python, Driver) and isinstance(command, Driver)
    finally:
        python.close()
        command.close()


def test_checks_see_only_the_driver_protocol():
    """No check branches on the kind of connector or reaches into a driver's internals."""
    banned = (
        "PythonConnector",
        "CommandConnector",
        "manifest.python",
        "_stderr_text",
        "PROBE",
        "ASGITransport",
    )
    for path in sorted((ROOT / "harness" / "checks").glob("*.py")):
        text = path.read_text()
        assert not [word for word in banned if word in text], path.name


LOGGING_DEMO = """
import logging

log = logging.getLogger("demo")


def elsewhere(level, msg):  # a record as a library outside the connector's folder makes it
    logging.getLogger("lib").handle(logging.makeLogRecord(
        {"name": "lib", "levelno": level, "levelname": logging.getLevelName(level), "msg": msg,
         "pathname": "/site-packages/lib/client.py"}))


class Demo:
    def __init__(self, config, sink):
        self.sink = sink

    def sync(self, state):
        log.debug("below the host's level")
        log.info("page fetched", extra={"stream": "contacts", "sync_id": "s1"})
        elsewhere(logging.INFO, "library chatter")
        elsewhere(logging.WARNING, "library warning")
"""


def test_a_python_connectors_logging_records_arrive_as_log_messages_with_their_extras(
    tmp_path, platform_contract
):
    (tmp_path / "demo_connector.py").write_text(LOGGING_DEMO)
    connector = PythonConnector(load_manifest(write(tmp_path, GOOD), platform_contract), {}, Replica(), 30)
    try:
        connector.sync(None)
        logs = connector.sink.logs
    finally:
        connector.close()
    assert logs[0] == {
        "level": "info", "message": "page fetched", "stream": "contacts", "sync_id": "s1", "logger": "demo"
    }  # fmt: skip
    assert [(e["logger"], e["message"]) for e in logs[1:]] == [("lib", "library warning")]
