"""[connector.fields]: the fields a connector uses per stream (DATA-01 judges the rest)."""

from __future__ import annotations

import pytest

from harness.connectors import ManifestError, load_manifest

GOOD = """[connector]
name = "demo"
version = "1.0.0"
python = "demo_connector:Demo"
scopes = ["contacts:read"]
streams = ["contacts"]
"""


def test_fields_load_per_stream(tmp_path, platform_contract):
    path = tmp_path / "connector.toml"
    path.write_text(GOOD + '[connector.fields]\ncontacts = ["email", "updated_at"]\n')
    assert load_manifest(path, platform_contract).fields == {"contacts": ("email", "updated_at")}
    path.write_text(GOOD)
    assert load_manifest(path, platform_contract).fields == {}


@pytest.mark.parametrize(
    ("table", "key", "words"),
    [
        ('contcts = ["email"]', "connector.fields", "did you mean 'contacts'?"),
        ('deals = ["amount"]', "connector.fields", "'deals', which is not one of its streams"),
        ('contacts = ["emial"]', "connector.fields.contacts", "did you mean 'email'?"),
        ('contacts = ["email", "email"]', "connector.fields.contacts", "non-unique"),
    ],
)
def test_field_mistakes_name_the_key_and_the_fix(tmp_path, platform_contract, table, key, words):
    path = tmp_path / "connector.toml"
    path.write_text(GOOD + f"[connector.fields]\n{table}\n")
    with pytest.raises(ManifestError) as info:
        load_manifest(path, platform_contract)
    assert info.value.key == key
    assert words in str(info.value) and "fix:" in str(info.value)
