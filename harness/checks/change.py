"""Change tolerance: the connector survives the contract's next additive version.

Platforms ship additive changes without notice: optional fields on records, values in enums,
deprecation headers on operations they plan to retire. The sandbox serves such a version,
derived from the contract by harness.contract.evolve, and validates its answers against it, so
everything the connector sees is contract-true for the platform's next version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.checks.context import CheckContext, RunError, StreamDiff, compare
from harness.checks.failures import Finding, NotApplicable
from harness.checks.registry import check
from harness.connectors import ConnectorFailed, ConnectorTimeout, Replica
from harness.contract.evolve import Evolution
from harness.runtime import SandboxError, TenantHandle

RECORDS = 20  # per stream the connector syncs


@check("CHG-01", pillar="change", severity="high", level="standard", timeout=120, requires=("collections",))
def survives_additive_version(ctx: CheckContext) -> None:
    """Syncs the contract's next additive version: new fields, new enum values, deprecations.

    The sandbox serves a tenant from the contract's next additive version (derived from the
    run's seed): every record schema gains an optional field, string enums of records gain a
    value, list operations answer `Deprecation` (RFC 9745) and `Sunset` (RFC 8594) headers, and
    the change feed's event types gain a new kind of change (`contact.merged`, the record as it
    stands), announced after every update. One record per stream carries each new enum value
    before the full sync; after it, a new record and an update carrying them (and the new event
    after the update) are picked up by an incremental sync. Both syncs must
    complete, and the replica must equal the platform on the fields of the published contract
    (the connector may drop or keep the new fields). A connector that refuses unknown fields
    (a strict model, `**record` into a dataclass), maps enums through a closed list or raises on
    an event type it does not know breaks on the platform's next release, with no change on the
    connector's side.
    """
    sizes = {s: RECORDS for s in ctx.manifest.streams}
    try:
        tenant = ctx.tenant(sizes, purpose="evolved", evolve=ctx.seed_for("v2"))
    except SandboxError as exc:
        if "evolve needs a single-process sandbox" not in str(exc):
            raise
        raise NotApplicable(f"the sandbox cannot serve an evolved tenant: {exc}") from None
    evolution = _evolution(tenant)
    added = additions(evolution, ctx.manifest.streams)
    if not added:
        raise NotApplicable(
            "the next additive version adds nothing to the streams it syncs (their record "
            "schemas are not defined with `properties` in the contract's own document)"
        )
    _carry_enums(ctx, tenant, evolution, update=False)
    replica = ctx.replica()
    connector = ctx.connector(tenant, replica)
    error: RunError | None = None
    phase = "check()"
    try:
        connector.check()
        phase = "the full sync"
        connector.sync(None)
        _carry_enums(ctx, tenant, evolution, update=True)
        phase = "the incremental sync"
        connector.sync(replica.state)
    except (ConnectorFailed, ConnectorTimeout) as exc:
        error = exc
    finally:
        connector.close()
    ctx.require(judge_tolerated(error, phase, evolution, ctx.manifest.streams, _diffs(ctx, tenant, replica)))


def _evolution(tenant: TenantHandle) -> Evolution:
    return Evolution.from_dict(tenant.info.get("evolved") or {})


def additions(evolution: Evolution, streams: Sequence[str]) -> list[str]:
    """`contacts: field evolved_rank, lifecycle_stage = "archived_v2"`, per synced stream."""
    out = []
    for stream in streams:
        parts = [f"field {name}" for name in evolution.fields.get(stream, ())]
        parts += [f"{name} = {value!r}" for name, value in evolution.enums.get(stream, {}).items()]
        if stream in evolution.events:
            parts.append(f"change feed event {evolution.events[stream]!r}")
        if parts:
            out.append(f"{stream}: {', '.join(parts)}")
    return out


def _carry_enums(ctx: CheckContext, tenant: TenantHandle, evolution: Evolution, *, update: bool) -> None:
    """Give one record per stream each new enum value: an existing one, or (`update`) a new
    record and a changed one, for the incremental sync; the change announces the stream's new
    kind of change on the feed (after each update, the evolved sandbox does)."""
    for stream in ctx.manifest.streams:
        values = evolution.enums.get(stream) or {}
        if not values and not (update and stream in evolution.events):
            continue
        col = ctx.contract.collections[stream]
        records = tenant.records(stream)
        if update and values:
            tenant.create(stream, dict(values))
        if len(records) > 1:
            tenant.update(stream, records[-1 if update else 0][col.id_field], dict(values))


def _diffs(ctx: CheckContext, tenant: TenantHandle, replica: Replica) -> list[StreamDiff]:
    """The streams whose replica differs from the platform on the published contract's fields
    (and the declared ones, where the manifest lists them)."""
    out = []
    for col in ctx.streams():
        known = set(col.item_schema.get("properties") or {})
        truth = {r[col.id_field]: _cut(ctx, col.name, r, known) for r in tenant.records(col.name)}
        rows = {i: _cut(ctx, col.name, r, known) for i, r in replica.rows.get(col.name, {}).items()}
        found = compare(col.name, truth, rows)
        if found is not None:
            out.append(found)
    return out


def _cut(ctx: CheckContext, stream: str, record: Mapping[str, Any], known: set[str]) -> dict[str, Any]:
    kept = ctx.compared(stream, dict(record))
    return {k: v for k, v in kept.items() if not known or k in known}


def judge_tolerated(
    error: RunError | None,
    phase: str,
    evolution: Evolution,
    streams: Sequence[str],
    diffs: list[StreamDiff],
) -> Finding | None:
    """Both syncs completed against the evolved version and the replica equals the platform on
    the published fields."""
    added = additions(evolution, streams)
    what = "; ".join(added)
    expected = (
        "check(), a full and an incremental sync complete; fields it does not know are dropped or "
        "kept, enum values it does not know are stored as sent, Deprecation/Sunset headers ignored "
        "or logged"
    )
    if error is not None:
        return Finding.of(
            f"{cause(str(error), evolution, streams)}: failed in {phase} against the contract's next "
            f"additive version ({what}): {error}",
            expected=expected,
            added=added,
        )
    if diffs:
        return Finding.of(
            f"after syncing the contract's next additive version ({what}), the replica differs "
            f"from the platform on the published fields: {'; '.join(d.phrase() for d in diffs)}",
            expected=expected,
            added=added,
        )
    return None


def cause(text: str, evolution: Evolution, streams: Sequence[str]) -> str:
    """What in the new version the error names: a new field, a new enum value, or neither."""
    for stream in streams:
        for name in evolution.fields.get(stream, ()):
            if name in text:
                return f"rejected the new optional field {stream}.{name} (unknown fields must be tolerated)"
        for name, value in evolution.enums.get(stream, {}).items():
            if value in text:
                return f"rejected the new enum value {value!r} of {stream}.{name} (enums are open)"
        kind = evolution.events.get(stream)
        word = kind.rpartition(".")[2] if kind else ""
        if kind and (kind in text or f"'{word}'" in text or f'"{word}"' in text):
            return (
                f"rejected the new change feed event type {kind!r} (event types are open: skip, or "
                "treat as an update, the kinds of change you do not know)"
            )
    return "broke on the next additive version"
