"""Generate values for every schema of a contract and check each against the project's validator.

Shared by tests/unit/test_synth_schemas.py (every contract under tests/contracts/, and an opt-in
corpus given by HARNESS_SCHEMA_CORPUS). A value the validator refuses is a generator bug.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from faker import Faker

from harness.contract import load
from harness.contract.errors import ContractError
from harness.contract.pointer import escape
from harness.synth.errors import SynthError
from harness.synth.generator import Compiler, Ctx, Infinite

CLOCK = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Tally:
    schemas: int = 0
    values: int = 0
    invalid: list[str] = field(default_factory=list)  # "pointer: value"
    crashes: list[str] = field(default_factory=list)  # "pointer: exception"
    refused: list[str] = field(default_factory=list)  # SynthError: the schema is unsatisfiable
    unverifiable: int = 0  # the validator itself raised (e.g. a pattern it cannot compile)

    def add(self, other: Tally) -> None:
        self.schemas += other.schemas
        self.values += other.values
        self.invalid += other.invalid
        self.crashes += other.crashes
        self.refused += other.refused
        self.unverifiable += other.unverifiable


def contract_files(root: Path) -> list[Path]:
    """Every OpenAPI document under root (YAML or JSON), except deliberately broken ones."""
    found = [*root.rglob("*.yaml"), *root.rglob("*.yml"), *root.rglob("*.json")]
    return sorted(p for p in found if "broken" not in p.parts)


def schema_uris(contract: Any) -> list[str]:
    """Component schemas, then response and request body schemas of every operation."""
    doc = contract.document
    out = [
        contract.at("components", "schemas", name)
        for name in (doc.get("components") or {}).get("schemas") or {}
    ]
    for op in contract.operations:
        for response in op.responses.values():
            out += [uri for uri in response.media.values() if uri]
        out += [uri for uri in op.body_media.values() if uri]
    return list(dict.fromkeys(out))


def ctx_for(fake: Any, seed: int) -> Ctx:
    fake.seed_instance(seed)
    start = CLOCK - timedelta(days=365)
    return Ctx(
        fake,
        seed,
        start + timedelta(days=30),
        start + timedelta(days=60),
        start,
        0.1,
        lambda name, i: f"{name[:3]}_{i + 1}",
        {},
    )


def check_contract(path: Path, values_per_schema: int = 3, seed: int = 0, budget_s: float = 600.0) -> Tally:
    tally = Tally()
    try:
        contract = load(path, check=False)
    except ContractError:
        return tally
    fake = Faker("en_US", use_weighting=False)._factories[0]
    compiler = Compiler(contract, fake, {}, None)
    started = time.monotonic()
    for uri in schema_uris(contract):
        if time.monotonic() - started > budget_s:
            break
        pointer = uri.partition("#")[2]
        tally.schemas += 1
        try:
            schema = contract.schema_at(uri)
            build = compiler.compile(schema, uri)
        except SynthError as exc:
            tally.refused.append(f"{path.name}{pointer}: {exc.message}")
            continue
        except Exception as exc:  # a crash is what is being counted
            tally.crashes.append(f"{path.name}{pointer}: {type(exc).__name__}: {str(exc)[:200]}")
            continue
        validator = contract.validator(uri)
        for n in range(values_per_schema):
            try:
                value = build(ctx_for(fake, seed * 1000 + n))
            except Infinite:  # no value satisfies the schema (e.g. `type: null` and a oneOf of strings)
                tally.refused.append(f"{path.name}{pointer}: no value satisfies it")
                break
            except Exception as exc:
                tally.crashes.append(f"{path.name}{pointer}: {type(exc).__name__}: {str(exc)[:200]}")
                break
            tally.values += 1
            try:
                ok = validator.is_valid(value)
            except Exception:  # the validator cannot judge this schema
                tally.unverifiable += 1
                continue
            if not ok:
                errors = [
                    f"{''.join('/' + escape(str(p)) for p in e.absolute_path)} {e.message[:120]}"
                    for e in list(validator.iter_errors(value))[:2]
                ]
                tally.invalid.append(f"{path.name}{pointer}: {errors}")
                break
    return tally
