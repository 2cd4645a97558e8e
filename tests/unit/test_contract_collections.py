from __future__ import annotations

from harness.contract.collections import find_feed


def test_reference_collections_are_inferred(platform_contract):
    cols = platform_contract.collections
    assert set(cols) == {"contacts", "companies", "deals"}
    contacts = cols["contacts"]
    assert (contacts.id_field, contacts.updated_field, contacts.data_field) == ("id", "updated_at", "data")
    assert contacts.id_prefix == "con_"
    assert contacts.pagination.style == "cursor"
    assert (contacts.pagination.cursor_param, contacts.pagination.next_field) == ("cursor", "next_cursor")
    assert (contacts.pagination.default_limit, contacts.pagination.max_limit) == (50, 200)
    assert contacts.since_param == "updated_since"
    assert contacts.create_op.operation_id == "createContact"
    assert contacts.update_op.operation_id == "updateContact"
    assert contacts.delete_op.operation_id == "deleteContact"
    assert cols["deals"].create_op is None
    assert cols["deals"].read_scopes == {"deals:read"}
    assert find_feed(platform_contract).operation_id == "listEvents"


def test_offset_paging_and_api_keys_are_inferred(ticketing_contract):
    tickets = ticketing_contract.collections["tickets"]
    assert tickets.pagination.style == "offset"
    assert (tickets.pagination.offset_param, tickets.pagination.limit_param) == ("offset", "limit")
    assert tickets.data_field == "items"
    assert tickets.since_param == "updated_after"
    assert tickets.update_op.method == "PUT"


def test_x_sandbox_hints_name_ids_that_are_not_called_id(inventory_contract):
    products = inventory_contract.collections["products"]
    assert (products.id_field, products.updated_field) == ("sku", "modified_at")
    assert products.pagination.style == "page"
    assert products.pagination.has_more_field == "has_more"
    assert inventory_contract.collections["warehouses"].id_field == "code"
