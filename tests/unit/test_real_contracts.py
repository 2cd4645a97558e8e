"""Real published contracts (tests/contracts/real/, copied byte for byte from the APIs.guru
directory) load, get a tenant, and are served. What holds today is asserted plainly; what the
sandbox does not do yet (issue 12) is a strict xfail naming the gap, to be flipped when it does.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import httpx
import pytest

import harness.runtime
from harness.contract import load, validate_response

REAL = Path(__file__).resolve().parents[1] / "contracts" / "real"
FILES = sorted(REAL.glob("*.json"))
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}

# A valid request per spec: (method, path under the tenant's base URL, query, whether the
# request carries the tenant's credential the way the contract says). Written from each
# contract's own parameters.
VALID = {
    "xkcd.com.json": [("GET", "/info.0.json", {}), ("GET", "/614/info.0.json", {})],
    "nytimes.com-archive.json": [("GET", "/2019/1.json", {"api-key": "{secret}"})],
    "nytimes.com-books_api.json": [
        ("GET", "/lists/names.json", {"api-key": "{secret}"}),
        ("GET", "/lists/overview.json", {"api-key": "{secret}"}),
    ],
    "1password.com-events.json": [("GET", "/api/auth/introspect", {})],
}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_copies_are_the_published_files_named_in_the_readme():
    readme = (REAL / "README.md").read_text()
    listed = dict(re.findall(r"\| `([^`]+\.json)` \| `[^`]+` \| ([0-9a-f]{64}) \|", readme))
    assert sorted(listed) == [f.name for f in FILES]
    for f in FILES:
        assert _sha(f) == listed[f.name], f"{f.name} differs from the published file"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_loads_with_every_operation(path: Path):
    doc = json.loads(path.read_text())
    declared = {(m.upper(), p) for p, item in doc["paths"].items() for m in item if m in METHODS}
    contract = load(path)
    assert {(op.method, op.path) for op in contract.operations} == declared


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_a_tenant_is_created_under_the_servers_path(path: Path):
    contract = load(path)
    with harness.runtime.embedded(contract) as sandbox:
        tenant = sandbox.new_tenant(seed=3)
        assert tenant.base_url.endswith(f"/t/{tenant.id}{contract.base_path}")
        assert tenant.client_secret


def _requests(path: Path, secret: str):
    for method, sub, query in VALID[path.name]:
        yield method, sub, {k: v.replace("{secret}", secret) for k, v in query.items()}


def _operation(contract, method: str, sub: str):
    found = contract.router.match(method, contract.base_path + sub) or contract.router.match(method, sub)
    assert found is not None, f"{method} {sub} is not an operation of {contract.title}"
    return found.operation


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_wrong_or_missing_credentials_are_refused_where_the_contract_needs_them(path: Path):
    contract = load(path)
    with harness.runtime.embedded(contract) as sandbox:
        tenant = sandbox.new_tenant(seed=3)
        checked = 0
        for method, sub, query in _requests(path, "wrong-secret"):
            if not _operation(contract, method, sub).security:
                continue
            answer = httpx.request(
                method,
                tenant.base_url + sub,
                params=query,
                headers={"Authorization": "Bearer wrong-token"},
                timeout=10,
            )
            assert answer.status_code == 401, (method, sub, answer.text[:200])
            checked += 1
        assert checked or not any(op.security for op in contract.operations)


SERVED_GAP: dict[str, str] = {}  # file name -> the gap, while the sandbox cannot serve one


def _served(path: Path) -> pytest.param:
    gap = SERVED_GAP.get(path.name)
    marks = [pytest.mark.xfail(strict=True, reason=gap)] if gap else []
    return pytest.param(path, id=path.stem, marks=marks)


@pytest.mark.parametrize("path", [_served(p) for p in FILES])
def test_a_valid_request_gets_a_documented_conforming_2xx(path: Path):
    """The target: every operation answered, in the contract's own shape, with a credential
    the tenant was given (control API) for the scheme the contract declares."""
    contract = load(path)
    with harness.runtime.embedded(contract) as sandbox:
        tenant = sandbox.new_tenant(seed=3)
        for method, sub, query in _requests(path, tenant.client_secret):
            op = _operation(contract, method, sub)
            headers = {}
            if op.security and tenant.token_url:
                token = httpx.post(
                    tenant.token_url,
                    data={"grant_type": "client_credentials"},
                    auth=(tenant.client_id, tenant.client_secret),
                    timeout=10,
                ).json()["access_token"]
                headers["Authorization"] = f"Bearer {token}"
            elif op.security:  # a static credential: where the control API says it goes
                for given in tenant.info["credentials"]:
                    if given["in"] == "header" and given["scheme"] in op.security[0]:
                        headers[given["name"]] = given["value"]
            answer = httpx.request(method, tenant.base_url + sub, params=query, headers=headers, timeout=10)
            assert 200 <= answer.status_code < 300, (method, sub, answer.status_code, answer.text[:200])
            assert validate_response(contract, op, answer.status_code, answer.headers, answer.content) == []
