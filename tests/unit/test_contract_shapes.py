"""What the contract engine infers from vendor-shaped contracts: collection names from the
whole path, nested ids, write statuses, envelopes and paging styles, operation roles; and that
Python-dialect patterns load while a refusal names the pattern's pointer and the fix."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.contract import ContractError, load
from harness.contract.collections import operation_roles
from harness.contract.schema import ecma_pattern
from harness.lint import describe
from tests.conftest import CONTRACTS, ROOT


@pytest.fixture(scope="module")
def vendor():
    return load(CONTRACTS / "shapes" / "vendor.openapi.yaml")


def test_lists_ending_in_the_same_segment_are_two_collections_the_shorter_path_keeping_the_name(vendor):
    cols = vendor.collections
    assert set(cols) == {
        "customers",
        "accounts",
        "financial_connections_accounts",
        "ssids",
        "repos",
        "things",
    }
    assert cols["accounts"].list_op.path == "/v1/accounts"
    assert cols["financial_connections_accounts"].list_op.path == "/v1/financial_connections/accounts"


def test_stripe_shape_id_cursors_post_updates_and_documented_write_statuses(vendor):
    customers = vendor.collections["customers"]
    pag = customers.pagination
    assert (pag.style, pag.cursor_param, pag.before_param, pag.has_more_field) == (
        "id",
        "starting_after",
        "ending_before",
        "has_more",
    )
    assert (customers.data_field, customers.id_param, customers.id_prefix) == ("data", "customer", "cus_")
    assert customers.update_op.method == "POST"
    assert {k: w.status for k, w in customers.writes.items()} == {"create": 200, "update": 200, "delete": 200}
    assert customers.writes["delete"].body_uri.endswith(
        "/delete/responses/200/content/application~1json/schema"
    )
    things = vendor.collections["things"]
    assert (things.status_of("create", 0), things.status_of("delete", 0)) == (201, 204)
    assert things.writes["delete"].body_uri is None


def test_nested_collections_take_the_last_path_parameter_and_its_type(vendor):
    ssids = vendor.collections["ssids"]
    assert (ssids.id_param, ssids.parent_params, ssids.id_field) == ("number", ("networkId",), "number")
    assert ssids.id_schema["type"] == "integer"
    assert ssids.data_field is None and ssids.nested


def test_envelopes_and_paging_styles(vendor):
    repos, things = vendor.collections["repos"].pagination, vendor.collections["things"].pagination
    assert (repos.style, repos.page_param, repos.limit_param, repos.link_header) == (
        "page",
        "page",
        "per_page",
        True,
    )
    assert (repos.default_limit, repos.max_limit) == (30, 100)
    assert (things.style, things.cursor_param, things.next_field) == ("cursor", "cursor", "_metadata.next")
    assert vendor.collections["things"].data_field == "items"
    assert "paging cursor via cursor/limit, next in _metadata.next" in describe(vendor.collections["things"])


def test_operations_outside_collections_have_roles(vendor):
    roles = operation_roles(vendor)
    assert roles["PostCustomersCustomerCancel"] == ("action", "customers")
    assert roles["getMe"] == ("singleton", None)
    assert roles["PostCustomersCustomer"] == ("update", "customers")
    assert roles["createDomain"] == ("other", None)


def test_x_sandbox_hints_override_the_inferred_name_and_can_drop_a_list(tmp_path):
    text = (CONTRACTS / "shapes" / "vendor.openapi.yaml").read_text()
    text = text.replace(
        "operationId: GetAccounts\n", "operationId: GetAccounts\n      x-sandbox: {collection: false}\n"
    )
    text = text.replace(
        "operationId: repos/list\n", "operationId: repos/list\n      x-sandbox: {collection: repositories}\n"
    )
    path = tmp_path / "hinted.yaml"
    path.write_text(text)
    cols = load(path).collections
    assert "repositories" in cols and "repos" not in cols
    # with /v1/accounts left out, the other accounts list takes the bare name
    assert "accounts" in cols and cols["accounts"].list_op.path == "/v1/financial_connections/accounts"


@pytest.mark.parametrize(
    ("python", "ecma"),
    [
        (r"\A(\*\.)?x\Z", r"^(\*\.)?x$"),
        (r"(?P<y>\d{4})-(?P=y)", r"(?<y>\d{4})-\k<y>"),
        (r"a\\A", r"a\\A"),  # an escaped backslash followed by A is a literal, left alone
        (r"^plain[a-z]+$", r"^plain[a-z]+$"),
    ],
)
def test_python_dialect_patterns_become_ecma(python, ecma):
    assert ecma_pattern(python) == ecma


def test_a_python_dialect_pattern_loads_and_validates_both_ways(vendor):
    domain = vendor.collections  # loading at all is the first half (jsonschema-rs refused \A before)
    assert domain
    validator = vendor.validator(vendor.at("components", "schemas", "Domain"))
    assert validator.is_valid({"domain": "example.com"})
    assert not validator.is_valid({"domain": "not a domain"})


def test_an_invalid_pattern_is_refused_at_its_pointer_with_the_fix():
    with pytest.raises(ContractError) as caught:
        load(CONTRACTS / "broken" / "ecma_invalid_pattern.yaml")
    (problem,) = caught.value.problems
    assert problem.pointer.endswith("/schema/properties/code/pattern")
    assert "ECMA-262" in problem.fix
    assert "{" not in problem.message  # names the place, does not dump the object


def test_importing_the_contract_layer_defers_the_iri_grammar_until_an_iri_is_checked():
    code = (
        "import sys, harness.contract\n"
        "from jsonschema import Draft202012Validator, FormatChecker\n"
        "before = sys.modules['rfc3987_syntax'].__doc__ or ''\n"
        "v = Draft202012Validator({'format': 'iri'}, format_checker=FormatChecker())\n"
        "print('stand-in' in before, v.is_valid('http://\u00e9.example/x'), v.is_valid('no iri'))\n"
        "print('stand-in' in (sys.modules['rfc3987_syntax'].__doc__ or ''))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "False", "False"]


ALLOF_ENVELOPE = """
openapi: 3.0.3
info: {title: allOf envelope, version: "1"}
paths:
  /v2/droplets:
    get:
      parameters:
        - {name: page, in: query, schema: {type: integer}}
        - {name: per_page, in: query, schema: {type: integer}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                allOf:
                  - type: object
                    properties: {droplets: {type: array, items: {$ref: "#/components/schemas/D"}}}
                  - {type: object, required: [meta], properties: {meta: {type: object}}}
  /v2/droplets/{droplet_id}:
    get:
      parameters: [{name: droplet_id, in: path, required: true, schema: {type: integer}}]
      responses:
        "200": {description: ok, content: {application/json: {schema: {$ref: "#/components/schemas/D"}}}}
components:
  schemas:
    D: {type: object, properties: {id: {type: integer}}}
"""


def test_an_envelope_built_with_allof_is_read_through_its_parts(tmp_path):
    path = tmp_path / "allof.yaml"
    path.write_text(ALLOF_ENVELOPE)
    droplets = load(path).collections["droplets"]  # shaped like DigitalOcean's lists
    assert (droplets.data_field, droplets.pagination.style, droplets.id_schema["type"]) == (
        "droplets",
        "page",
        "integer",
    )
