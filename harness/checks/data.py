"""Data minimization checks: fields the connector does not declare never reach its outputs."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from typing import Any

from harness.checks.context import CheckContext, RunError
from harness.checks.failures import NotApplicable
from harness.checks.registry import check
from harness.connectors import ConnectorFailed, ConnectorTimeout, Driver
from harness.contract.schema import schema_type
from harness.runtime import TenantHandle

RECORDS = 10  # per stream, before the canaries
CANARIES = 3  # records created with canary values, per declared stream and per sync
CANARY_KEY = "canary_note"  # a key for free-form objects (custom fields)
FORMATS = {
    None: "{}",
    "email": "{}@example.com",
    "hostname": "{}.example.com",
    "uri": "https://example.com/{}",
}


@check("DATA-01", pillar="data", severity="high", level="standard", timeout=90)
def undeclared_fields_stay_out(ctx: CheckContext) -> None:
    """Fields it does not declare never reach its replica, logs or output (data minimization).

    Where the manifest lists the fields a stream uses (`[connector.fields]`, passed to the
    connector as the `fields` config key), the connector may keep only those and the record's
    id. The sandbox plants recognizable canary values in the other fields of new and updated
    records; after a full and an incremental sync, no stored record may carry an undeclared
    field, and no canary may appear anywhere: records of any stream, checkpoints, logs, errors
    or a command connector's stderr. Streams that list no fields are not judged.
    """
    declared = {stream: names for stream, names in ctx.manifest.fields.items() if names}
    if not declared:
        raise NotApplicable(
            "the manifest lists no fields for any stream ([connector.fields]), so every field of "
            "every record is one it declares it uses"
        )
    tenant = ctx.tenant({stream: RECORDS for stream in ctx.manifest.streams}, purpose="minimize")
    rng = random.Random(ctx.seed_for("canaries"))
    canaries: dict[str, str] = {}  # canary -> "stream/id field"
    for stream, names in declared.items():
        _plant(ctx, tenant, stream, names, rng, canaries, update=False)
    replica = ctx.replica()
    connector = ctx.connector(tenant, replica)
    error: RunError | None = None
    try:
        connector.check()
        connector.sync(None)
        for stream, names in declared.items():  # picked up by the incremental sync
            _plant(ctx, tenant, stream, names, rng, canaries, update=True)
        connector.sync(replica.state)
    except (ConnectorFailed, ConnectorTimeout) as exc:
        error = exc
    finally:
        connector.close()

    problems: list[str] = []
    for stream, names in declared.items():
        keep = {ctx.contract.collections[stream].id_field, *names}
        rows = replica.rows.get(stream, {})
        carrying = {rid: sorted(set(row) - keep) for rid, row in rows.items() if set(row) - keep}
        if carrying:
            fields = Counter(name for extra in carrying.values() for name in extra)
            rid, extra = next(iter(carrying.items()))
            example = ", ".join(f"{name}={_short(rows[rid][name])}" for name in extra[:3])
            problems.append(
                f"stored {len(fields)} undeclared field(s) of {stream} ({', '.join(sorted(fields))}) in "
                f"{len(carrying)} of {len(rows)} record(s), e.g. {rid}: {example}"
            )
    leaks = [
        (where, canary)
        for where, text in _places(replica, connector, error)
        for canary in canaries
        if canary in text
    ]
    if leaks:
        where, canary = leaks[0]
        places = sorted({w.split(" #")[0].split(" ")[0] for w, _ in leaks})
        problems.append(
            f"undeclared field values reached its outputs {len(leaks)} time(s) ({', '.join(places)}), "
            f"e.g. the canary planted in {canaries[canary]} appears in {where}"
        )
    if problems:
        raise ctx.fail(
            "; ".join(problems),
            expected="only the id and the fields listed in [connector.fields] stored, and undeclared "
            "fields nowhere in logs or output: " + "; ".join(f"{s} = {list(n)}" for s, n in declared.items()),
            canaries=len(canaries),
        )
    if error is not None:
        raise ctx.fail(
            f"the sync did not complete, so what it keeps of each record cannot be judged: {error}",
            expected="check(), sync(None) and sync(state) return normally",
        )
    if not any(replica.rows.get(stream) for stream in declared):
        raise ctx.fail(
            f"the sync stored no {' or '.join(declared)} record, so there is nothing to judge",
            expected="the declared streams' records (their declared fields) in the replica",
        )


def _plant(
    ctx: CheckContext,
    tenant: TenantHandle,
    stream: str,
    names: tuple[str, ...],
    rng: random.Random,
    canaries: dict[str, str],
    *,
    update: bool,
) -> None:
    """Create CANARIES records (and, when `update`, update one more) with canaries in undeclared fields."""
    col = ctx.contract.collections[stream]
    existing = tenant.records(stream)
    if not existing:
        return
    targets: list[Any] = [None] * CANARIES + ([existing[0][col.id_field]] if update else [])
    for target in targets:
        fields, planted = _canary_fields(ctx, stream, names, existing[0], rng)
        if not fields:
            return
        if target is None:
            record = tenant.create(stream, fields)
            target = record[col.id_field]
        else:
            tenant.update(stream, target, fields)
        canaries.update({canary: f"{stream}/{target} {name}" for canary, name in planted.items()})


def _canary_fields(
    ctx: CheckContext, stream: str, names: tuple[str, ...], base: dict[str, Any], rng: random.Random
) -> tuple[dict[str, Any], dict[str, str]]:
    """Schema-valid values for the undeclared fields that can hold a recognizable string."""
    col = ctx.contract.collections[stream]
    schema, uri = ctx.contract.deref(col.item_schema, col.item_schema_uri)
    keep = {col.id_field, col.updated_field, *names}
    fields: dict[str, Any] = {}
    planted: dict[str, str] = {}
    for name, prop in schema.get("properties", {}).items():
        if name in keep:
            continue
        canary = f"cnry{rng.getrandbits(48):012x}"
        value = _canary_value(ctx, prop, uri, canary)
        if value is not None:
            fields[name], planted[canary] = value, name
    validator = ctx.contract.validator(col.item_schema_uri)
    for error in validator.iter_errors({**base, **fields}):  # drop any the schema refuses after all
        if error.absolute_path and error.absolute_path[0] in fields:
            fields.pop(error.absolute_path[0])
    planted = {canary: name for canary, name in planted.items() if name in fields}
    return fields, planted


def _canary_value(ctx: CheckContext, prop: Any, uri: str, canary: str, depth: int = 0) -> Any:
    prop, uri = ctx.contract.deref(prop, uri)
    if not isinstance(prop, dict) or depth > 2:
        return None
    for option in prop.get("oneOf") or prop.get("anyOf") or []:
        value = _canary_value(ctx, option, uri, canary, depth + 1)
        if value is not None:
            return value
    types = schema_type(prop)
    if "string" in types and not {"enum", "const", "pattern"} & set(prop) and prop.get("format") in FORMATS:
        value = FORMATS[prop.get("format")].format(canary)
        return value if len(value) <= prop.get("maxLength", len(value)) else None
    if "array" in types and prop.get("maxItems", 1) >= 1:
        item = _canary_value(ctx, prop.get("items", {}), uri, canary, depth + 1)
        return [item] if item is not None else None
    if (
        "object" in types
        and not prop.get("properties")
        and isinstance(prop.get("additionalProperties"), dict)
    ):
        pattern = prop.get("propertyNames", {}).get("pattern")
        if pattern and not re.search(pattern, CANARY_KEY):
            return None
        item = _canary_value(ctx, prop["additionalProperties"], uri, canary, depth + 1)
        return {CANARY_KEY: item} if item is not None else None
    return None


def _places(replica: Any, connector: Driver, error: RunError | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    out += [(f"log #{i}", _text(entry)) for i, entry in enumerate(replica.logs, 1)]
    for stream, rows in replica.rows.items():
        out += [(f"record {stream}/{rid}", _text(row)) for rid, row in rows.items()]
    out += [(f"checkpoint #{i}", _text(state)) for i, state in enumerate(replica.checkpoints, 1)]
    if error is not None:
        out.append(("error", f"{error}\n{error.traceback_text}"))
    out += [(f"stderr line {i}", line) for i, line in enumerate(connector.diagnostics().stderr, 1)]
    return out


def _text(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def _short(value: Any) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."
