"""The sandbox answers as real platforms do, within the contract: gzip when accepted, chunked
bodies, headers of its own, Retry-After as a date where the schema allows; seeded, reproducible."""

from __future__ import annotations

import email.utils
import gzip
import math
import socket
import time
from pathlib import Path

import httpx
import pytest
from starlette.responses import JSONResponse

from harness.contract import load
from harness.contract.model import Operation, Response
from harness.runtime import embedded
from harness.sandbox.shaping import (
    Chunked,
    accepts_gzip,
    declared_headers,
    draw,
    retry_after_takes_a_date,
    shape,
)

CONTRACT = "contracts/platform.openapi.yaml"
BODY = {"data": [{"id": f"con_{i}", "email": f"x{i}@example.com"} for i in range(20)]}


def _seed_with(**wanted: bool) -> int:
    """The first request seed whose draws are the wanted ones (reproducible: draws are pure)."""
    return next(s for s in range(10_000) if all(draw(s, what) == on for what, on in wanted.items()))


def test_accept_encoding_is_read_with_q_values():
    assert accepts_gzip("gzip, deflate, br") and accepts_gzip("*") and accepts_gzip("br;q=1, gzip;q=0.5")
    assert not accepts_gzip("") and not accepts_gzip("identity") and not accepts_gzip("gzip;q=0")


def test_each_behaviour_is_drawn_from_the_seed_reproducibly_and_all_show_up():
    draws = [tuple(draw(s, w) for w in ("gzip", "chunked", "header", "retry_date")) for s in range(200)]
    assert draws == [
        tuple(draw(s, w) for w in ("gzip", "chunked", "header", "retry_date")) for s in range(200)
    ]
    for column in zip(*draws, strict=True):
        assert 40 < sum(column) < 160  # on by default for about half the requests, not all or none


def test_a_shaped_answer_is_gzip_chunked_with_an_extra_header_and_decodes_to_the_same_body():
    contract = load(CONTRACT)
    seed = _seed_with(gzip=True, chunked=True, header=True)
    original = JSONResponse(BODY)
    shaped = shape(
        contract, None, original, seed, {"accept-encoding": "gzip"}, "1.1", "GET", declared_headers(contract)
    )
    assert isinstance(shaped, Chunked)
    assert shaped.headers["content-encoding"] == "gzip" and b"content-length" not in dict(shaped.raw_headers)
    assert gzip.decompress(bytes(shaped.body)) == bytes(original.body)
    extra = set(shaped.headers) - set(original.headers) - {"content-encoding", "vary"}
    assert len(extra) == 1 and not extra & declared_headers(contract)
    assert not any("harness" in k or "sandbox" in k for k in shaped.headers)  # names no harness
    again = shape(
        contract, None, JSONResponse(BODY), seed, {"accept-encoding": "gzip"}, "1.1", "GET", frozenset()
    )
    assert dict(again.headers) == dict(shaped.headers)  # the same request, the same answer


def test_no_gzip_for_a_client_that_does_not_accept_it_and_no_chunks_on_http_1_0():
    contract = load(CONTRACT)
    seed = _seed_with(gzip=True, chunked=True)
    plain = shape(contract, None, JSONResponse(BODY), seed, {}, "1.0", "GET", frozenset())
    assert "content-encoding" not in plain.headers and not isinstance(plain, Chunked)
    assert plain.headers["content-length"] == str(len(plain.body))


def _op(schema_uri: str | None, declared: bool = True) -> Operation:
    headers = {"retry-after": (True, schema_uri)} if declared else {}
    return Operation("GET", "/x", "listX", "", (), False, {}, {"429": Response("429", {}, headers)}, ())


def test_retry_after_becomes_a_date_only_where_the_contract_takes_a_string():
    contract = load(CONTRACT)
    listing = contract.operation(contract.collections["contacts"].list_op.operation_id)
    assert not retry_after_takes_a_date(contract, listing, 429)  # the bundled contract: integer seconds
    assert retry_after_takes_a_date(contract, _op(None), 429)  # declared without a schema: either form
    assert not retry_after_takes_a_date(contract, _op(None, declared=False), 429)
    seed = _seed_with(retry_date=True)
    refused = JSONResponse({"title": "slow down"}, 429, headers={"Retry-After": "3"})
    kept = shape(contract, listing, refused, seed, {}, "1.1", "GET", frozenset())
    assert kept.headers["retry-after"] == "3"
    refused = JSONResponse({"title": "slow down"}, 429, headers={"Retry-After": "3"})
    dated = shape(contract, _op(None), refused, seed, {}, "1.1", "GET", frozenset())
    when = email.utils.parsedate_to_datetime(dated.headers["retry-after"]).timestamp()
    assert when - time.time() >= 3  # waiting until the date waits at least the seconds


@pytest.fixture(scope="module")
def sandbox():
    with embedded(load(CONTRACT)) as handle:
        yield handle


def _token(tenant) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": tenant.client_id,
        "client_secret": tenant.client_secret,
    }
    return httpx.post(tenant.token_url, data=form).json()["access_token"]


def test_over_the_wire_gzip_and_chunks_reach_clients_that_accept_them_and_not_others(sandbox):
    tenant = sandbox.new_tenant(seed=5, sizes={"contacts": 40})
    headers = {"Authorization": f"Bearer {_token(tenant)}"}
    encodings, framings, bodies = set(), set(), []
    for limit in range(1, 25):
        r = httpx.get(f"{tenant.base_url}/v1/contacts", params={"limit": limit}, headers=headers)
        assert r.status_code == 200
        encodings.add(r.headers.get("content-encoding", "identity"))
        framings.add("chunked" if r.headers.get("transfer-encoding") == "chunked" else "length")
        bodies.append(len(r.json()["data"]))
    assert encodings == {"gzip", "identity"} and framings == {"chunked", "length"}
    assert bodies == list(range(1, 25))  # httpx decodes both: the same data whatever the framing
    # a client that does not accept gzip never gets it (raw socket: nothing decodes for us)
    host, port = tenant.base_url.split("//")[1].split("/")[0].split(":")
    path = "/" + tenant.base_url.split("//")[1].split("/", 1)[1] + "/v1/contacts?limit=30"
    for _ in range(6):
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(
                f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{_auth(headers)}Connection: close\r\n\r\n".encode()
            )
            raw = b""
            while chunk := sock.recv(65536):
                raw += chunk
        assert raw.startswith(b"HTTP/1.1 200") and b"content-encoding: gzip" not in raw.lower()


def _auth(headers: dict[str, str]) -> str:
    return "".join(f"{k}: {v}\r\n" for k, v in headers.items())


def test_about_half_the_cursors_are_as_long_as_the_contract_allows_and_page_to_the_end(sandbox):
    from harness.sandbox import cursors

    tenant = sandbox.new_tenant(seed=9, sizes={"contacts": 60})
    headers = {"Authorization": f"Bearer {_token(tenant)}"}
    seen, lengths, cursor = [], [], None
    for _ in range(40):
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = httpx.get(f"{tenant.base_url}/v1/contacts", params=params, headers=headers).json()
        seen += [r["id"] for r in body["data"]]
        cursor = body.get("next_cursor")
        if not cursor:
            break
        lengths.append(len(cursor))
    assert sorted(seen) == sorted(r["id"] for r in tenant.records("contacts"))
    assert 512 in lengths and min(lengths) < 200  # the parameter's maxLength, and ordinary ones
    assert max(lengths) == 512  # never past what the contract allows
    long = cursors.encode(b"k", "contacts", {"k": [1, 2]}, 512)
    assert len(long) == 512 and cursors.decode(b"k", "contacts", long) == {"k": [1, 2]}


def test_res01s_scripted_429s_say_retry_after_as_a_date_where_the_contract_takes_one(tmp_path):
    """A contract whose Retry-After is a string (RFC 9110: seconds or an HTTP date): about half
    the scripted 429s give a date, never earlier than the seconds; the bundled one keeps seconds."""
    from harness.core import Fault

    text = Path(CONTRACT).read_text(encoding="utf-8")
    integer = "      schema:\n        type: integer\n        minimum: 0"
    start = text.index("    RetryAfter:")
    at = text.index(integer, start)
    (tmp_path / "dates.yaml").write_text(
        text[:at] + "      schema:\n        type: string" + text[at + len(integer) :]
    )
    for path, dates_allowed in ((tmp_path / "dates.yaml", True), (CONTRACT, False)):
        contract = load(str(path))
        op = contract.collections["contacts"].list_op.operation_id
        with embedded(contract) as handle:
            tenant = handle.new_tenant(seed=4, sizes={"contacts": 5})
            headers = {"Authorization": f"Bearer {_token(tenant)}"}
            tenant.set_faults([Fault.rate_limited(2, op, times=None)])
            values = []
            sent = []  # when each request left: a date is judged against that, not the time of the assert
            for limit in range(1, 13):
                sent.append(time.time())
                r = httpx.get(f"{tenant.base_url}/v1/contacts", params={"limit": limit}, headers=headers)
                assert r.status_code == 429
                values.append(r.headers["retry-after"])
        dates = [(v, at) for v, at in zip(values, sent, strict=True) if not v.isdigit()]
        if not dates_allowed:
            assert dates == [] and set(values) == {"2"}
            continue
        assert dates and len(dates) < len(values)  # both forms
        for value, at in dates:  # 2 s after the request, in whole seconds (an HTTP date has no fraction)
            assert email.utils.parsedate_to_datetime(value).timestamp() >= math.floor(at) + 1, (value, at)
