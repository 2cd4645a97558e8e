from __future__ import annotations

import json

import pytest

from harness.contract import load, validate_request, validate_response

FORM = {"content-type": "application/x-www-form-urlencoded"}
JSON = {"content-type": "application/json"}


def pointers(violations):
    return {v.pointer for v in violations}


def test_a_valid_list_request_has_no_violations(platform_contract):
    match, found = validate_request(
        platform_contract,
        "GET",
        "/v1/contacts",
        {"limit": ["200"], "cursor": ["abc"], "updated_since": ["2024-01-01T00:00:00Z"]},
    )
    assert match.operation.operation_id == "listContacts"
    assert found == []


def test_out_of_range_and_undeclared_query_parameters_are_violations(platform_contract):
    _, found = validate_request(
        platform_contract, "GET", "/v1/contacts", {"limit": ["1000"], "access_token": ["t"]}
    )
    assert pointers(found) == {"/query/limit", "/query/access_token"}
    limit = next(v for v in found if v.pointer == "/query/limit")
    assert "1000 is greater than the maximum of 200" in limit.message


@pytest.mark.parametrize(
    ("query", "pointer", "words"),
    [
        ({"limit": ["ten"]}, "/query/limit", "'ten' is not of type 'integer'"),
        ({"limit": ["5", "6"]}, "/query/limit", "given 2 times"),
        ({"updated_since": ["yesterday"]}, "/query/updated_since", "is not a 'date-time'"),
        ({"cursor": [""]}, "/query/cursor", "should be non-empty"),
    ],
)
def test_query_values_are_read_as_their_schema_type(platform_contract, query, pointer, words):
    _, found = validate_request(platform_contract, "GET", "/v1/contacts", query)
    assert [v.pointer for v in found] == [pointer]
    assert words in found[0].message


def test_path_parameters_are_validated(platform_contract):
    match, found = validate_request(platform_contract, "GET", "/v1/contacts/con_123")
    assert match.path_params == {"id": "con_123"}
    assert pointers(found) == {"/path/id"}


def test_unknown_path_and_wrong_method_are_told_apart(platform_contract):
    _, unknown = validate_request(platform_contract, "GET", "/v2/contacts")
    _, wrong = validate_request(platform_contract, "PUT", "/v1/contacts/con_0123456789abcdef")
    assert "/v2/contacts is not a path of the contract" in unknown[0].message
    assert "PUT is not allowed" in wrong[0].message and "PATCH" in wrong[0].message


def test_json_bodies_are_validated_with_pointers(platform_contract):
    body = json.dumps({"email": "not-an-email", "first_name": 3}).encode()
    _, found = validate_request(platform_contract, "POST", "/v1/contacts", {}, JSON, body)
    assert pointers(found) == {"/body", "/body/email", "/body/first_name"}


@pytest.mark.parametrize(
    ("headers", "body", "words"),
    [
        (JSON, b"{not json", "not valid JSON"),
        (JSON, b"\xff\xfe", "not valid UTF-8"),
        ({"content-type": "text/plain"}, b"hello", "content type 'text/plain' is not one of"),
        (JSON, b"", "requires a body"),
    ],
)
def test_malformed_bodies_are_findings_not_crashes(platform_contract, headers, body, words):
    _, found = validate_request(platform_contract, "POST", "/v1/contacts", {}, headers, body)
    assert any(words in v.message for v in found), found


def test_form_bodies_are_validated(platform_contract):
    ok = b"grant_type=client_credentials&client_id=a&client_secret=b&scope=contacts%3Aread"
    assert validate_request(platform_contract, "POST", "/oauth/token", {}, FORM, ok)[1] == []
    _, found = validate_request(platform_contract, "POST", "/oauth/token", {}, FORM, b"grant_type=password")
    assert pointers(found) == {"/body/grant_type"}
    _, broken = validate_request(platform_contract, "POST", "/oauth/token", {}, FORM, b"a=%zz&&=")
    assert broken and broken[0].pointer == "/body"


def test_header_parameters_are_validated(platform_contract):
    body = json.dumps({"email": "a@b.co", "first_name": "A", "last_name": "B"}).encode()
    _, found = validate_request(
        platform_contract, "POST", "/v1/contacts", {}, {**JSON, "Idempotency-Key": "x" * 300}, body
    )
    assert pointers(found) == {"/header/Idempotency-Key"}


def test_responses_are_checked_for_status_headers_and_body(platform_contract):
    op = platform_contract.operation("listContacts")
    problem = {"content-type": "application/problem+json"}
    body = json.dumps({"type": "about:blank", "title": "Too Many Requests", "status": 429}).encode()
    missing = validate_response(platform_contract, op, 429, problem, body)
    assert pointers(missing) == {"/headers/retry-after", "/headers/ratelimit", "/headers/ratelimit-policy"}
    ok = {
        **problem,
        "retry-after": "2",
        "ratelimit": '"default";r=0;t=2',
        "ratelimit-policy": '"default";q=10;w=1',
    }
    assert validate_response(platform_contract, op, 429, ok, body) == []
    assert validate_response(platform_contract, op, 418, {}, b"")[0].pointer == "/status"
    page = json.dumps({"data": [{"id": "con_x"}], "next_cursor": None}).encode()
    found = validate_response(platform_contract, op, 200, JSON, page)
    assert "/body/data/0" in pointers(found) and "/body/data/0/id" in pointers(found)


def test_other_contracts_validate_their_own_auth_and_paging(ticketing_contract, inventory_contract):
    _, found = validate_request(
        ticketing_contract, "GET", "/tickets", {"offset": ["-1"], "limit": ["25"]}, {"X-API-Key": "k"}
    )
    assert pointers(found) == {"/query/offset"}
    _, found = validate_request(
        inventory_contract, "GET", "/products", {"page": ["2"], "per_page": ["500"], "api_key": ["k"]}
    )
    assert found == []
    _, found = validate_request(inventory_contract, "GET", "/products/SKU-12")
    assert pointers(found) == {"/path/sku"}


def test_schemas_under_a_templated_path_get_the_fast_validator_too(platform_contract):
    """jsonschema-rs refuses a raw `{` in a $ref's fragment; the engine percent-encodes it, so a
    body under `/v1/contacts/{id}` is not left to the pure-Python validator on every request."""
    from harness.contract.schema import validator_for

    uris = [u for op in platform_contract.operations if "{" in op.path for u in op.body_media.values() if u]
    assert uris
    for uri in uris:
        validator = validator_for(platform_contract, uri)
        assert validator.fast is not None, uri
        assert not validator.fast.is_valid([]) and not validator.is_valid([])  # a body is an object


def test_of_two_templates_of_one_shape_the_one_whose_path_values_fit_is_matched(tmp_path):
    """Xero: `/Invoices/{InvoiceID}/Attachments/{AttachmentID}` (a uuid) and `.../{FileName}` (any
    string) match the same paths; a file name goes to the second, a uuid to the first, and a
    template of another shape never stands in for the one that matched first."""
    text, uuid = {"type": "string"}, {"type": "string", "format": "uuid"}

    def op(name, param, schema):
        return {
            "get": {
                "operationId": name,
                "parameters": [{"name": param, "in": "path", "required": True, "schema": schema}],
                "responses": {"200": {"description": "ok"}},
            }
        }

    doc = {
        "openapi": "3.1.0",
        "info": {"title": "Shapes", "version": "1"},
        "paths": {
            "/files/{AttachmentID}": op("byId", "AttachmentID", uuid),
            "/files/{FileName}": op("byName", "FileName", text),
            "/numbers/{n}": op("number", "n", {"type": "integer"}),
            "/{a}/{b}": op("anything", "b", text),
        },
    }
    doc["paths"]["/{a}/{b}"]["get"]["parameters"].append(
        {"name": "a", "in": "path", "required": True, "schema": text}
    )
    path = tmp_path / "shapes.json"
    path.write_text(json.dumps(doc))
    contract = load(path)
    by_name, violations = validate_request(contract, "GET", "/files/report.pdf")
    assert by_name is not None and by_name.operation.operation_id == "byName" and violations == []
    by_id, _ = validate_request(contract, "GET", "/files/00000000-0000-0000-0000-000000000000")
    assert by_id is not None and by_id.operation.operation_id == "byId"
    wrong, violations = validate_request(contract, "GET", "/numbers/abc")
    assert wrong is not None and wrong.operation.operation_id == "number" and violations  # a 400, as before


def test_a_required_array_left_out_of_a_form_body_reads_as_empty(tmp_path):
    """A form has no spelling for an empty array (Twilio's `UseCaseCategories`, required): the
    key's absence is the empty array, not a missing required property; a missing string is still
    refused."""
    form = {
        "type": "object",
        "required": ["Name", "Categories"],
        "properties": {
            "Name": {"type": "string"},
            "Categories": {"type": "array", "items": {"type": "string"}},
        },
    }
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "Forms", "version": "1"},
        "paths": {
            "/verifications": {
                "post": {
                    "operationId": "verify",
                    "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": form}}},
                    "responses": {"201": {"description": "made"}},
                }
            }
        },
    }
    path = tmp_path / "forms.json"
    path.write_text(json.dumps(doc))
    contract = load(path)
    headers = {"content-type": "application/x-www-form-urlencoded"}
    _, violations = validate_request(contract, "POST", "/verifications", {}, headers, b"Name=x")
    assert violations == []
    _, violations = validate_request(contract, "POST", "/verifications", {}, headers, b"Categories=a")
    assert [v.message for v in violations] == ["'Name' is a required property"]


def _one_op_contract(tmp_path, operation):
    doc = {"openapi": "3.1.0", "info": {"title": "One", "version": "1"}, "paths": {"/x": {"put": operation}}}
    path = tmp_path / "one.json"
    path.write_text(json.dumps(doc))
    return load(path)


def test_an_empty_value_is_valid_for_a_query_parameter_that_allows_it(tmp_path):
    """Zoom's `option` is an enum with `allowEmptyValue: true`: `option=` is valid, `option=x` not."""
    enum = {"type": "string", "enum": ["security", "meeting_security"]}
    contract = _one_op_contract(
        tmp_path,
        {
            "operationId": "settings",
            "parameters": [{"name": "option", "in": "query", "allowEmptyValue": True, "schema": enum}],
            "responses": {"204": {"description": "done"}},
        },
    )
    assert validate_request(contract, "PUT", "/x", {"option": [""]})[1] == []
    assert validate_request(contract, "PUT", "/x", {"option": ["x"]})[1] != []


@pytest.mark.parametrize(
    "media, schema, empty_ok",
    [
        ("image/jpeg", {"type": "string", "format": "base64"}, True),
        ("text/plain", {"type": "string"}, True),
        ("text/plain", {"type": "string", "minLength": 1}, False),
        ("application/json", {"type": "string"}, False),
    ],
)
def test_a_required_body_may_be_empty_where_its_schema_takes_the_empty_string(
    tmp_path, media, schema, empty_ok
):
    """Spotify's `PUT /playlists/{id}/images` (base64 image/jpeg) and Gitea's `POST /markdown/raw`
    (text/plain) require a body whose schema the empty string satisfies; JSON is never empty."""
    contract = _one_op_contract(
        tmp_path,
        {
            "operationId": "upload",
            "requestBody": {"required": True, "content": {media: {"schema": schema}}},
            "responses": {"200": {"description": "ok"}},
        },
    )
    violations = validate_request(contract, "PUT", "/x", {}, {"content-type": media}, b"")[1]
    assert (violations == []) is empty_ok


def test_a_segment_mixing_text_and_parameters_wins_over_a_bare_parameter(tmp_path):
    """Gitea: `/commits/{sha}.{diffType}` must not be served as `/commits/{sha}` (one parameter
    fewer, which the old order put first), and a literal segment still beats both."""
    text = {"type": "string"}

    def op(name, *params):
        return {
            "get": {
                "operationId": name,
                "parameters": [{"name": p, "in": "path", "required": True, "schema": text} for p in params],
                "responses": {"200": {"description": "ok"}},
            }
        }

    doc = {
        "openapi": "3.1.0",
        "info": {"title": "Commits", "version": "1"},
        "paths": {
            "/commits/{sha}": op("commit", "sha"),
            "/commits/{sha}.{diffType}": op("diff", "sha", "diffType"),
            "/commits/latest": op("latest"),
        },
    }
    path = tmp_path / "commits.json"
    path.write_text(json.dumps(doc))
    contract = load(path)
    diff = contract.router.match("GET", "/commits/abc.patch")
    assert diff is not None and diff.operation.operation_id == "diff"
    assert diff.path_params == {"sha": "abc", "diffType": "patch"}
    assert contract.router.match("GET", "/commits/abc").operation.operation_id == "commit"
    assert contract.router.match("GET", "/commits/latest").operation.operation_id == "latest"
