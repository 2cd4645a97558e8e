"""Credentials in the platform's own formats (harness/sandbox/credentials.py), on real contracts
(tests/contracts/real/, with a hint added in a copy where the test says so) and the default one."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import httpx
import pytest

import harness.runtime
from harness.contract import ContractError, load
from harness.sandbox.credentials import (
    DEFAULTS,
    Formats,
    KeyedRandom,
    Minter,
    contract_formats,
    credential_problems,
    mask_patterns,
    pattern_of,
)

REAL = Path(__file__).resolve().parents[1] / "contracts" / "real"
NYT = REAL / "nytimes.com-archive.json"
ONEPASSWORD = REAL / "1password.com-events.json"
SK_TEST = "^sk_test_[A-Za-z0-9]{24}$"


def _with_scheme(tmp_path: Path, source: Path, name: str, **changes) -> Path:
    """A copy of a real contract whose security scheme `name` has `changes` merged in."""
    doc = json.loads(source.read_text())
    doc["components"]["securitySchemes"][name].update(changes)
    copy = tmp_path / source.name
    copy.write_text(json.dumps(doc))
    return copy


def test_without_a_format_credentials_name_nothing(platform_contract):
    with harness.runtime.embedded(platform_contract) as sandbox:
        tenant = sandbox.new_tenant(seed=3)
        token = httpx.post(
            tenant.token_url,
            data={"grant_type": "client_credentials"},
            auth=(tenant.client_id, tenant.client_secret),
            timeout=10,
        ).json()["access_token"]
    for value, fmt in (
        (tenant.client_id, DEFAULTS["client_id"]),
        (tenant.client_secret, DEFAULTS["client_secret"]),
        (token, DEFAULTS["access_token"]),
    ):
        assert re.fullmatch(fmt.pattern, value), value
        assert not re.match(r"(cli|cs|at|tok|sandbox|harness|test)[_-]", value, re.I), value


def test_an_api_key_takes_the_hinted_pattern_and_is_accepted(tmp_path):
    hint = {"x-sandbox": {"credential": {"pattern": SK_TEST}}}
    path = _with_scheme(tmp_path, NYT, "apikey", **hint)
    with harness.runtime.embedded(load(path)) as sandbox:
        tenant = sandbox.new_tenant(seed=3)
        assert re.fullmatch(SK_TEST, tenant.client_secret)
        good = httpx.get(tenant.base_url + "/2019/1.json", params={"api-key": tenant.client_secret})
        bad = httpx.get(tenant.base_url + "/2019/1.json", params={"api-key": "sk_test_" + "A" * 24})
    assert good.status_code == 200 and bad.status_code == 401


def test_a_bearer_format_jwt_gives_a_jwt_the_sandbox_accepts():
    """1Password Events declares `bearerFormat: JWT-SA` and no token endpoint: the static
    bearer the tenant gets is a JWT, as 1Password's service-account tokens are."""
    with harness.runtime.embedded(load(ONEPASSWORD)) as sandbox:
        tenant = sandbox.new_tenant(seed=3)
        answer = httpx.get(
            tenant.base_url + "/api/auth/introspect",
            headers={"Authorization": f"Bearer {tenant.client_secret}"},
        )
    header, payload, signature = tenant.client_secret.split(".")
    decode = lambda part: json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # noqa: E731
    assert decode(header)["typ"] == "JWT" and decode(header)["alg"] == "ES256"
    assert decode(payload)["sub"] == tenant.client_id and len(signature) > 40
    assert answer.status_code == 200, answer.text[:200]


def test_per_role_hints_shape_the_token_endpoints_tokens(platform_contract, tmp_path):
    doc = platform_contract.document
    (name,) = [n for n, s in doc["components"]["securitySchemes"].items() if s["type"] == "oauth2"]
    doc = json.loads(json.dumps(doc))
    doc["components"]["securitySchemes"][name]["x-sandbox"] = {
        "credential": {
            "client_id": {"format": "uuid"},
            "client_secret": {"example": "sec_live_3f9aB0c1D2e3F4a5B6c7D8e9"},
            "access_token": {"pattern": "^tk\\.[0-9a-f]{40}$"},
        }
    }
    path = tmp_path / "platform.json"
    path.write_text(json.dumps(doc))
    with harness.runtime.embedded(load(path)) as sandbox:
        tenant = sandbox.new_tenant(seed=3)
        token = httpx.post(
            tenant.token_url,
            data={"grant_type": "client_credentials"},
            auth=(tenant.client_id, tenant.client_secret),
            timeout=10,
        ).json()["access_token"]
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", tenant.client_id
    )
    assert re.fullmatch(r"sec_live_[A-Za-z0-9]{24}", tenant.client_secret)
    assert re.fullmatch(r"tk\.[0-9a-f]{40}", token)


def test_a_basic_username_takes_the_pattern_of_the_account_it_names(tmp_path):
    """Twilio's shape: scheme `accountSid_authToken`, paths under `/Accounts/{AccountSid}`."""
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "components": {"securitySchemes": {"accountSid_authToken": {"type": "http", "scheme": "basic"}}},
        "security": [{"accountSid_authToken": []}],
        "paths": {
            "/Accounts/{AccountSid}/Things.json": {
                "get": {
                    "parameters": [
                        {
                            "name": "AccountSid",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": "^AC[0-9a-fA-F]{32}$"},
                        }
                    ],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
    path = tmp_path / "basic.json"
    path.write_text(json.dumps(doc))
    formats = contract_formats(load(path))
    assert formats.client_id.pattern == "^AC[0-9a-fA-F]{32}$"
    assert formats.client_secret == DEFAULTS["client_secret"]


def test_two_tenants_of_one_seed_never_share_a_credential(platform_contract):
    with harness.runtime.embedded(platform_contract) as sandbox:
        one, two = sandbox.new_tenant(seed=5), sandbox.new_tenant(seed=5)
    assert one.client_id != two.client_id and one.client_secret != two.client_secret


def test_the_seed_and_key_reproduce_every_credential():
    formats = Formats()
    first, again = Minter(formats, 7, b"k" * 32), Minter(formats, 7, b"k" * 32)
    assert [first.client(), first.token("c", 1e9)] == [again.client(), again.token("c", 1e9)]
    assert Minter(formats, 8, b"k" * 32).client() != Minter(formats, 7, b"k" * 32).client()
    assert Minter(formats, 7, b"j" * 32).client() != Minter(formats, 7, b"k" * 32).client()
    minter = Minter(formats, 7, b"k" * 32)
    assert minter.token("c", 1e9) != minter.token("c", 1e9)  # each mint is a new stream


def test_the_keyed_stream_is_deterministic_and_spread():
    draws = [KeyedRandom(b"key").randrange(62) for _ in range(1)]
    assert draws == [KeyedRandom(b"key").randrange(62)]
    rng = KeyedRandom(b"key")
    counts = [0] * 10
    for _ in range(5000):
        counts[rng.randrange(10)] += 1
    assert min(counts) > 400 and max(counts) < 600


@pytest.mark.parametrize(
    ("example", "pattern"),
    [
        ("sk_test_4eC39HqLyjWDarjtT1zdp7dc", "^sk_test_[A-Za-z0-9]{24}$"),
        ("0123456789abcdef0123", "^[0-9a-f]{20}$"),
        ("key-ABCDEF0123456789", "^key\\-[0-9A-F]{16}$"),
        ("pk-Zz09Yy18Xx27Ww36", "^pk\\-[A-Za-z0-9]{16}$"),
    ],
)
def test_an_example_gives_its_shape(example, pattern):
    assert pattern_of(example) == pattern
    assert re.fullmatch(pattern, example)


def test_an_invalid_pattern_is_refused_where_the_contract_is_loaded(tmp_path):
    """`{pattern: P}` is checked by the loader as every pattern is; the bare-string spelling
    here, when the sandbox starts."""
    spelled = _with_scheme(tmp_path, NYT, "apikey", **{"x-sandbox": {"credential": {"pattern": "^sk_($"}}})
    with pytest.raises(ContractError, match="x-sandbox/credential/pattern: pattern"):
        load(spelled)
    bare = _with_scheme(tmp_path, NYT, "apikey", **{"x-sandbox": {"credential": "^sk_($"}})
    (problem,) = credential_problems(load(bare))
    assert "not a usable regular expression" in problem.message


@pytest.mark.parametrize(
    ("credential", "says"),
    [
        ({"pattern": "^[0-9]{4}$"}, "at least 16"),
        ({"pattern": "^(?!x)x{20}$"}, "cannot draw"),
        ({"format": "opaque"}, "unknown credential format"),
        ({"pattern": "^[ ,;:]{20}$"}, "at least 16 usable characters"),
        ({"client_key": "^x{20}$"}, "a credential spec is a pattern"),
        ({"client_id": "^x{20}$", "client_key": "^x{20}$"}, "unknown credential role"),
    ],
)
def test_a_bad_hint_names_its_place_and_the_fix(tmp_path, credential, says):
    path = _with_scheme(tmp_path, NYT, "apikey", **{"x-sandbox": {"credential": credential}})
    contract = load(path)
    problems = credential_problems(contract)
    assert problems and says in problems[0].message
    assert problems[0].pointer.startswith("/components/securitySchemes/apikey/x-sandbox/credential")
    with pytest.raises(ContractError) as refused:
        harness.runtime.embedded(contract).__enter__()
    assert says in str(refused.value) and "fix:" in str(refused.value)


def test_mask_patterns_find_minted_secrets_in_text():
    minter = Minter(Formats(), 1, b"k" * 32)
    client_id, secret = minter.client()
    token = minter.token(client_id, 1e9)
    text = f"failed with {secret} and Bearer {token}; client {client_id}"
    for pattern in mask_patterns(Formats()):
        text = pattern.sub("****", text)
    assert secret not in text and token not in text and client_id in text


def test_lint_reports_a_bad_credential_hint(tmp_path, capsys):
    from harness.lint import lint_command

    path = _with_scheme(tmp_path, NYT, "apikey", **{"x-sandbox": {"credential": {"format": "opaque"}}})
    assert lint_command(str(path)) == 1
    said = capsys.readouterr().err
    where = "#/components/securitySchemes/apikey/x-sandbox/credential/format"
    assert f"{where}: unknown credential format" in said
