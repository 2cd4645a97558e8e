"""Data minimization checks: fields the connector does not declare never reach its outputs."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from harness.checks.canaries import canary_fields, found, hide
from harness.checks.context import CheckContext, RunError
from harness.checks.failures import Finding, NotApplicable
from harness.checks.registry import check
from harness.connectors import ConnectorFailed, ConnectorTimeout, Driver, Replica
from harness.runtime import TenantHandle

RECORDS = 10  # per stream, before the canaries
CANARIES = 3  # records created with canary values, per declared stream and per sync
Rows = Mapping[str, Mapping[Any, Mapping[str, Any]]]  # stream -> id -> stored record
Places = list[tuple[str, str]]  # (where, text) of everything the connector produced


@check("DATA-01", pillar="data", severity="high", level="standard", timeout=90)
def undeclared_fields_stay_out(ctx: CheckContext) -> None:
    """Fields it does not declare never reach its replica, logs or output (data minimization).

    Where the manifest lists the fields a stream uses (`[connector.fields]`, passed to the
    connector as the `fields` config key), the connector may keep only those and the record's
    id. The sandbox plants canary values (ordinary-looking words, emails, hostnames and URLs in
    the fields' own formats) in the other fields of new and updated records; after a full and an
    incremental sync, no stored record may carry an undeclared field, and no canary may appear
    anywhere: records of any stream, checkpoints, logs, errors or a command connector's stderr.
    Streams that list no fields are not judged.
    """
    declared = {stream: names for stream, names in ctx.manifest.fields.items() if names}
    if not declared:
        raise NotApplicable(
            "the manifest lists no fields for any stream ([connector.fields]), so every field of "
            "every record is one it declares it uses"
        )
    keep = {s: {ctx.contract.collections[s].id_field, *names} for s, names in declared.items()}
    tenant = ctx.tenant({stream: RECORDS for stream in ctx.manifest.streams}, purpose="minimize")
    planter = _Planter(ctx, tenant, random.Random(ctx.seed_for("canaries")))
    planter.plant(declared, update=False)
    replica = ctx.replica()
    connector = ctx.connector(tenant, replica)
    error: RunError | None = None
    try:
        connector.check()
        connector.sync(None)
        planter.plant(declared, update=True)  # picked up by the incremental sync
        connector.sync(replica.state)
    except (ConnectorFailed, ConnectorTimeout) as exc:
        error = exc
    finally:
        connector.close()
    ctx.require(judge_minimized(replica.rows, keep, places(replica, connector, error), planter.canaries))
    ctx.require(judge_minimize_sync(error, replica.rows, list(declared)))


class _Planter:
    """Creates CANARIES records per stream (and, when updating, updates one more) with canaries
    in their undeclared fields; `canaries` maps each canary to `stream/id field`."""

    def __init__(self, ctx: CheckContext, tenant: TenantHandle, rng: random.Random) -> None:
        self.ctx, self.tenant, self.rng = ctx, tenant, rng
        self.canaries: dict[str, str] = {}

    def plant(self, declared: Mapping[str, tuple[str, ...]], *, update: bool) -> None:
        for stream, names in declared.items():
            col = self.ctx.contract.collections[stream]
            existing = self.tenant.records(stream)
            if not existing:
                continue
            keep = {col.id_field, *names} | ({col.updated_field} if col.updated_field else set())
            targets: list[Any] = [None] * CANARIES + ([existing[0][col.id_field]] if update else [])
            for target in targets:
                fields, planted = canary_fields(
                    self.ctx.contract, stream, keep, existing[0], self.rng, set(self.canaries)
                )
                if not fields:
                    break
                if target is None:
                    target = self.tenant.create(stream, fields)[col.id_field]
                else:
                    self.tenant.update(stream, target, fields)
                self.canaries.update({c: f"{stream}/{target} {name}" for c, name in planted.items()})
                self.ctx.plant(*planted)


def judge_minimized(
    rows: Rows, keep: Mapping[str, set[str]], outputs: Places, canaries: Mapping[str, str]
) -> Finding | None:
    """No stored record of a declared stream holds a field outside `keep` (stream -> the id and
    declared fields), and no canary (canary -> where it was planted) is in any output."""
    problems = [
        p
        for stream, names in keep.items()
        if (p := undeclared_phrase(stream, rows.get(stream, {}), names, canaries))
    ]
    leaks = [(where, canary) for where, text in outputs for canary in canaries if found(canary, text)]
    if leaks:
        problems.append(leak_phrase(leaks, canaries))
    if not problems:
        return None
    return Finding.of(
        hide("; ".join(problems), canaries),
        expected="only the id and the fields listed in [connector.fields] stored, and undeclared "
        "fields nowhere in logs or output: " + "; ".join(f"{s} = {sorted(n)}" for s, n in keep.items()),
        canaries=len(canaries),
    )


def undeclared_phrase(
    stream: str, rows: Mapping[Any, Mapping[str, Any]], keep: set[str], canaries: Iterable[str] = ()
) -> str:
    """`stored 2 undeclared field(s) of contacts (email, phone) in 3 of 13 record(s), e.g. ...`."""
    carrying = {rid: sorted(set(row) - keep) for rid, row in rows.items() if set(row) - keep}
    if not carrying:
        return ""
    fields = Counter(name for extra in carrying.values() for name in extra)
    rid, extra = next(iter(carrying.items()))
    example = ", ".join(f"{name}={_short(rows[rid][name], canaries)}" for name in extra[:3])
    return (
        f"stored {len(fields)} undeclared field(s) of {stream} ({', '.join(sorted(fields))}) in "
        f"{len(carrying)} of {len(rows)} record(s), e.g. {rid}: {example}"
    )


def leak_phrase(leaks: list[tuple[str, str]], canaries: Mapping[str, str]) -> str:
    where, canary = leaks[0]
    kinds = sorted({w.split(" #")[0].split(" ")[0] for w, _ in leaks})
    return (
        f"undeclared field values reached its outputs {len(leaks)} time(s) ({', '.join(kinds)}), "
        f"e.g. the canary planted in {canaries[canary]} appears in {where}"
    )


def judge_minimize_sync(error: RunError | None, rows: Rows, declared: Iterable[str]) -> Finding | None:
    """Both syncs completed and stored a declared stream's record, or nothing was judged."""
    declared = list(declared)
    if error is not None:
        return Finding.of(
            f"the sync did not complete, so what it keeps of each record cannot be judged: {error}",
            expected="check(), sync(None) and sync(state) return normally",
        )
    if not any(rows.get(stream) for stream in declared):
        return Finding.of(
            f"the sync stored no {' or '.join(declared)} record, so there is nothing to judge",
            expected="the declared streams' records (their declared fields) in the replica",
        )
    return None


def places(replica: Replica, connector: Driver, error: RunError | None) -> Places:
    out: Places = [(f"log #{i}", _text(entry)) for i, entry in enumerate(replica.logs, 1)]
    for stream, rows in replica.rows.items():
        out += [(f"record {stream}/{rid}", _text(row)) for rid, row in rows.items()]
    out += [(f"checkpoint #{i}", _text(state)) for i, state in enumerate(replica.checkpoints, 1)]
    if error is not None:
        out.append(("error", f"{error}\n{error.traceback_text}"))
    out += [(f"stderr line {i}", line) for i, line in enumerate(connector.diagnostics().stderr, 1)]
    return out


def _text(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def _short(value: Any, canaries: Iterable[str] = ()) -> str:
    """A value in at most 40 characters, its canaries masked before it is cut (no half canary)."""
    text = hide(json.dumps(value, default=str, ensure_ascii=False), canaries)
    return text if len(text) <= 40 else text[:37] + "..."
