"""The oracles: what counts as a defect in one example, and where it is (for deduplication).

Each oracle is judged from evidence the harness holds, never from what the connector says of
itself: how its calls ended (driver), the replica against the platform's records (sandbox), the
peak memory of its processes (driver), the text it produced (logs, stderr with its prints,
errors, checkpoints, records) and the URLs of the requests it made (the sandbox's request log).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from harness.connectors import ConnectorTimeout, Replica
from harness.core.requests import LoggedRequest
from harness.fuzz.world import Run, RunError, World
from harness.report.mask import MASK, PATTERNS

ORACLES = ("crash", "hang", "5xx", "divergence", "leak", "canary", "memory")
DEFAULT_MEMORY_MIB = 512
FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\S+)')


@dataclass(frozen=True)
class Problem:
    oracle: str  # one of ORACLES
    message: str  # what a person reads
    where: str  # the location it is deduplicated by: a frame, a stream and field, a secret's place

    @property
    def key(self) -> str:
        return f"{self.oracle}:{self.where}"


def frame_of(text: str, roots: tuple[str, ...] = ()) -> str:
    """`connector.py:16 in _store`: the innermost frame of a traceback in the connector's own code
    (under one of `roots`), else the innermost of all; '' when there is none. A crash inside
    `json` or `httpx` is located where the connector called them."""
    frames = FRAME.findall(text or "")
    own = [f for f in frames if any(f[0].startswith(root) for root in roots)]
    if not (own or frames):
        return ""
    path, line, function = (own or frames)[-1]
    return f"{PurePath(path).name}:{line} in {function}"


def call_problem(error: RunError, roots: tuple[str, ...] = ()) -> Problem:
    """A call that raised (crash) or ran past its limit (hang)."""
    if isinstance(error, ConnectorTimeout):
        return Problem("hang", str(error), error.call)
    inner = getattr(error, "error", error)
    where = frame_of(getattr(error, "traceback_text", ""), roots) or "no traceback"
    first = str(error).splitlines()[0] if str(error) else type(inner).__name__
    return Problem("crash", first[:400], f"{type(inner).__name__} at {where}")


def memory_problem(peak_kib: int, limit_mib: int) -> Problem | None:
    """A ceiling for runaway memory in any one example; leaks are judged by growth (below)."""
    if peak_kib <= limit_mib * 1024:
        return None
    return Problem(
        "memory",
        f"its processes peaked at {peak_kib // 1024} MiB, over the campaign's limit of {limit_mib} MiB",
        "peak memory",
    )


GROWTH_FLOOR_MIB = 4.0  # below this, a rise is allocator noise (arenas, caches warming up)
GROWTH_RATIO = 0.05  # and it must be at least this share of the peak after the warm-up sync
STEADY = 0.75  # share of the syncs after the warm-up that raised the peak: a trend, not one spike


def growth_problem(peaks_kib: list[int], *, warmup: int = 1) -> Problem | None:
    """Memory judged by its trend, not its size: the peak (VmHWM) of one connector process after
    each of successive syncs of the same tenant. A connector that lets each sync's data go needs
    no more memory for the tenth sync than for the second, however large its peak; one that
    keeps something from every sync (a cache never cleared, a list of every record seen) rises
    sync after sync and, in production, until it is killed. A leak: after the warm-up syncs the
    peak rose at most syncs, by more than GROWTH_FLOOR_MIB and GROWTH_RATIO of the warm peak."""
    measured = peaks_kib[warmup:]
    if len(measured) < 3 or measured[0] <= 0:
        return None
    growth = measured[-1] - measured[0]
    rises = sum(1 for a, b in itertools.pairwise(measured) if b > a)
    steady = rises >= STEADY * (len(measured) - 1)
    if not steady or growth <= GROWTH_FLOOR_MIB * 1024 or growth <= GROWTH_RATIO * measured[0]:
        return None
    per_sync = growth / (len(measured) - 1)
    return Problem(
        "memory",
        f"its peak memory rose sync after sync in one process: by {growth / 1024:.1f} MiB from sync "
        f"{warmup + 1} to sync {len(peaks_kib)} ({per_sync:.0f} KiB a sync, from "
        f"{measured[0] / 1024:.1f} to {measured[-1] / 1024:.1f} MiB): it keeps something from every sync",
        "growth across syncs",
    )


def divergence_problem(world: World, run: Run, after: str) -> Problem | None:
    """The replica against the platform's records, cut to the fields the connector declares."""
    diffs = world.differences(run.tenant, run.replica)
    if not diffs:
        return None
    stream, kind, record_id, fields = diffs[0]
    verb = {"lost": "is missing", "extra": "is still there although the platform has none", "stale": ""}
    detail = f"holds other values for {', '.join(fields)}" if kind == "stale" else verb[kind]
    more = f" (and {len(diffs) - 1} more difference(s))" if len(diffs) > 1 else ""
    return Problem(
        "divergence",
        f"{after}, the replica differs from the platform: {stream} {record_id} {detail}{more}",
        f"{stream} {kind}" + (f" {','.join(fields)}" if fields else ""),
    )


def secrets_of(world: World, run_tenant: Any, webhook_secret: str | None = None) -> dict[str, str]:
    """The credentials the connector was given, by name."""
    out = {"the client secret": run_tenant.client_secret}
    if webhook_secret:
        out["the webhook secret"] = webhook_secret
        out["the webhook signing key"] = webhook_secret.removeprefix("whsec_")
    return out


def places(replica: Replica, stderr: tuple[str, ...], errors: list[RunError]) -> list[tuple[str, str]]:
    """(where, text) of everything the connector produced that a person or a system may read."""
    out = [("its logs", json.dumps(replica.logs, default=str))]
    out.append(("its stderr", "\n".join(stderr)))
    out += [(f"the error of {e.call}", f"{e}\n{getattr(e, 'traceback_text', '')}") for e in errors]
    out.append(("its checkpoints", json.dumps(replica.checkpoints, default=str)))
    out.append(("its stored records", json.dumps(replica.rows, default=str)))
    return out


def leak_problem(secrets: dict[str, str], found_in: list[tuple[str, str]]) -> Problem | None:
    """A credential by value anywhere, or an issued token or canary by its shape outside the records
    (a record may legitimately hold any text the platform served)."""
    for what, value in secrets.items():
        for where, text in found_in:
            if value and value in text:
                return Problem("leak", f"{what} appears in {where}", f"{what} in {where}")
    for where, text in found_in:
        if where == "its stored records":
            continue
        for pattern in PATTERNS:
            match = pattern.search(text)
            if match:
                shape = match.group(0)[:4] + "…"
                return Problem(
                    "leak", f"a credential or canary ({shape}) appears in {where}", f"{shape} in {where}"
                )
    return None


def url_leak_problem(
    secrets: dict[str, str],
    requests: Iterable[LoggedRequest],
    shapes: Sequence[re.Pattern[str]] = PATTERNS,
) -> Problem | None:
    """A credential in the URL of a request it made: proxies, access logs and traces keep URLs.

    In a query string the sandbox has already masked it (by parameter name, or because the value
    is one of the tenant's credentials), so a masked value is the evidence; an API key the
    contract itself places in the query (accepted as such by the sandbox) is not a leak. A path
    is kept as sent, so it is searched for the credentials by value and by shape."""
    for entry in requests:
        where = entry.operation or f"{entry.method} {entry.path}"
        allowed = entry.auth.credential == "query" and entry.auth.error is None and entry.auth.client_id
        for name, values in entry.query.items():
            if allowed or not any(v.endswith(MASK) for v in values):
                continue
            return Problem(
                "leak",
                f"a credential is in the query string of its request {entry.method} {entry.path}"
                f"?{name}={values[0]} (masked by the sandbox)",
                f"a credential in the query string of {where}",
            )
        for what, value in secrets.items():
            if value and value in entry.path:
                return Problem(
                    "leak",
                    f"{what} is in the path of its request {entry.method} {_masked_path(entry.path, shapes)}",
                    f"{what} in the path of {where}",
                )
        for pattern in shapes:
            if pattern.search(entry.path):
                return Problem(
                    "leak",
                    f"a credential or canary is in the path of its request {entry.method} "
                    f"{_masked_path(entry.path, shapes)}",
                    f"a credential in the path of {where}",
                )
    return None


def _masked_path(path: str, shapes: Sequence[re.Pattern[str]]) -> str:
    for pattern in shapes:
        path = pattern.sub(lambda m: m.group(0)[:4] + MASK, path)
    return path


def judge_run(
    world: World,
    run: Run,
    *,
    after: str,
    memory_mib: int,
    secrets: dict[str, str],
    converge: bool = True,
    requests: Iterable[LoggedRequest] = (),
) -> list[Problem]:
    """Every oracle on one run: the first failed call, memory, leaks (in what it produced, then in
    the URLs of `requests`, the requests it made), then convergence."""
    problems = [call_problem(e, world.code_roots()) for e in run.errors[:1]]
    memory = memory_problem(run.peak_kib, memory_mib)
    if memory:
        problems.append(memory)
    leak = leak_problem(secrets, places(run.replica, run.stderr, run.errors)) or url_leak_problem(
        secrets, requests, world.credential_shapes()
    )
    if leak:
        problems.append(leak)
    if converge and not run.errors:
        diverged = divergence_problem(world, run, after)
        if diverged:
            problems.append(diverged)
    return problems
