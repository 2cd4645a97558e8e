"""The audit chain cannot be cut short or recomputed unnoticed: it is keyed, and its head is certified."""

from __future__ import annotations

import hashlib
import json

from harness.sandbox.audit import AuditLog, acting, entry_hash, verify


def chain(n: int = 5) -> AuditLog:
    log = AuditLog(b"k" * 32)
    for i in range(n):
        log.record("record.created", collection="contacts", id=f"con_{i}")
    return log


def test_an_intact_chain_verifies_against_its_head():
    log = chain()
    assert verify(log.entries(), log.key, log.head()) == []


def test_a_truncated_chain_fails_against_the_certified_head():
    log = chain()
    head = log.head()  # what the certificate carries
    truncated = log.entries()[:-2]
    assert verify(truncated, log.key) == []  # on its own a prefix is a valid chain ...
    problems = verify(truncated, log.key, head)  # ... but not the one that was certified
    assert problems and "cut off" in problems[0]


def test_a_recomputed_chain_does_not_verify_without_the_sandbox_key():
    log = chain()
    forged = [dict(e) for e in log.entries()][:3]
    forged[1]["details"] = {"collection": "contacts", "id": "con_forged"}
    prev = forged[0]["hash"]
    for entry in forged[1:]:  # an attacker re-chains with the old unkeyed scheme, or another key
        entry["prev"] = prev
        body = {k: v for k, v in entry.items() if k != "hash"}
        entry["hash"] = hashlib.sha256(
            json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()
        prev = entry["hash"]
    problems = verify(forged, log.key)
    assert any(p.startswith("entry 2") and "MAC" in p for p in problems)
    other = [dict(e) for e in forged]
    for entry in other:
        entry["hash"] = entry_hash(entry, b"guessed key")
    assert verify(other, log.key)


def test_entries_say_who_acted():
    log = AuditLog()
    log.record("faults.set")
    with acting("api"):
        log.record("record.deleted", collection="contacts", id="con_1")
    assert [e["by"] for e in log.entries()] == ["harness", "api"]
