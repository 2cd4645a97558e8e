"""Form bodies with bracket keys fold into the nested values their schemas describe."""

from __future__ import annotations

import pytest

from harness.contract.bodies import nest, parse_form


def test_bracket_keys_fold_into_objects_and_arrays_as_sdks_send_them():
    pairs = parse_form(
        "metadata%5Border%5D=42&items%5B0%5D%5Bprice%5D=p_1&items%5B0%5D%5Bquantity%5D=2"
        "&items%5B1%5D%5Bprice%5D=p_2&expand%5B%5D=customer&expand%5B%5D=invoice&name=x"
    )
    assert nest(pairs) == {
        "metadata": {"order": "42"},
        "items": [{"price": "p_1", "quantity": "2"}, {"price": "p_2"}],
        "expand": ["customer", "invoice"],
        "name": "x",
    }


def test_a_plain_key_given_twice_is_a_list_and_odd_keys_stay_as_they_are():
    assert nest([("To", "a"), ("To", "b"), ("weird]", "1"), ("a[b", "2")]) == {
        "To": ["a", "b"],
        "weird]": "1",
        "a[b": "2",
    }


def test_a_malformed_form_body_is_a_value_error_not_a_crash():
    with pytest.raises(ValueError):
        parse_form("a=%ZZ&&=")


def test_a_multipart_body_becomes_an_object_of_its_fields_and_file_names():
    from harness.contract.bodies import multipart_value

    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="parent"\r\n\r\n12345\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n\x89PNG\r\n--XyZ--\r\n"
    )
    assert multipart_value("multipart/form-data; boundary=XyZ", body) == {"parent": "12345", "file": "a.png"}
    with pytest.raises(ValueError):
        multipart_value("multipart/form-data", body)
