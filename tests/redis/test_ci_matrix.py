"""examples/ci/matrix.py: one sandbox served with its tenants in Redis, several connectors
certified against it, each in its own pytest run (`--sandbox=url:...`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKS = [
    "--cert-level=basic",
    "--checks=AUTH-01,CON-01",
]  # a few basic checks: the matrix, not the catalogue


def _matrix():
    spec = importlib.util.spec_from_file_location("ci_matrix", ROOT / "examples" / "ci" / "matrix.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_connectors_are_certified_against_one_served_sandbox(redis_server, tmp_path):
    matrix = _matrix()
    redis_server.flush()
    connectors = [
        ROOT / "examples" / "acme_sync",
        ROOT / "tests" / "connectors" / "flawed" / "token_in_query",
    ]
    with matrix.served(redis_server.url) as (url, token):
        results = matrix.run(connectors, url, token, tmp_path, CHECKS)
    # the clean connector passes; the flawed one fails the check that names its defect
    assert results == {"acme_sync": 0, "token_in_query": 1}
    flawed = (tmp_path / "token_in_query" / "pytest.log").read_text()
    assert "AUTH-01" in flawed and "query string" in flawed
    for name in results:
        assert f"--sandbox=url:{url}" in (tmp_path / name / "pytest.log").read_text()  # the one sandbox
        assert (tmp_path / name / "cert.json").is_file()
    with redis_server.client() as client:  # the sandbox kept its tenants in Redis; each run deleted its own
        assert client.info("commandstats")["cmdstat_evalsha"]["calls"] > 0
        assert client.zcard("hs:tenants") == 0
