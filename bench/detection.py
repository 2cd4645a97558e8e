"""How reliably the property-based checks catch their known-bad connectors, across seeds.

A property-based check (RES-04, INT-05, WH-04) draws its examples from the run's seed, so one
seed may miss a defect another finds. For each check and each flawed connector whose
expect.toml names it (`check = ...`; with --also, the `[also]` lists too) this certifies that one
check on seeds 1..N, each a child pytest as `make certify` runs it, and prints: caught / N, the
rate with its one-sided 95% Clopper-Pearson lower bound, the example budget, which example first
failed (from the certificate's evidence), and every missed seed with its replay command. Then
the same checks on examples/acme_sync for a few seeds, which must all pass. Every run that gives
no verdict is printed, never dropped. Exits 1 on a miss, a false failure or a run without a verdict.

    python bench/detection.py [N] [--reference K] [--jobs J] [--also] [--checks RES-04,...]
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FLAWED = ROOT / "tests" / "connectors" / "flawed"
REFERENCE = "examples/acme_sync"
sys.path.insert(0, str(ROOT))


def budgets() -> dict[str, str]:
    """Each check's example budget, read from its module so the figures cannot go stale."""
    from harness.checks import hostile, stateful, webhook_fuzz

    return {
        "RES-04": f"{hostile.HOSTILE_EXAMPLES} examples",
        "INT-05": f"1 fixed program + {stateful.STATEFUL_EXAMPLES} random of {stateful.STATEFUL_STEPS} steps",
        "WH-04": f"{webhook_fuzz.COVERAGE_EXAMPLES} coverage cases + {webhook_fuzz.FUZZ_EXAMPLES} random",
    }


@dataclass
class Run:
    check: str
    connector: str
    seed: int
    status: str  # passed, failed, error, ...; "no certificate" when the child wrote none
    message: str
    first_failure: int | None
    seconds: float
    replay: str


def certify(check: str, connector: str, seed: int) -> Run:
    """One child certification of one check on one seed, as the plugin's own replay line runs it."""
    args = [f"--connector={connector}", f"--seed={seed}", f"--checks={check}", "--cert-level=strict"]
    replay = "pytest " + " ".join(args)
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "cert.json"
        started = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                *args,
                f"--cert-report={report}",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        seconds = time.perf_counter() - started
        if not report.is_file():
            tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:]
            return Run(check, connector, seed, "no certificate", " | ".join(tail), None, seconds, replay)
        from harness.report import read_certificate

        checks = read_certificate(report)[1]["predicate"]["checks"]
    entry: dict[str, Any] = next((c for c in checks if c["id"] == check), {})
    if not entry:
        return Run(
            check, connector, seed, "not run", f"{check} is not in the certificate", None, seconds, replay
        )
    details = entry.get("evidence", {}).get("details", {})
    return Run(
        check,
        connector,
        seed,
        entry["status"],
        entry.get("message") or "",
        details.get("first_failing_example"),
        seconds,
        replay,
    )


def res04_model(seeds: int, connector: str) -> list[int | None]:
    """Per seed, the first RES-04 example (1-based) whose tenant holds a top-level string that
    latin-1 cannot encode in a stream `connector` syncs: where crashes_on_non_latin_text fails.
    The examples are drawn as the check draws them, and the tenants built as the sandbox builds
    them, but nothing syncs (hypothesis draws the same examples until the first failure), so it
    runs on far more seeds than certifications can. None: no such tenant within the budget."""
    from harness.checks.context import CheckContext
    from harness.checks.hostile import hostile_test
    from harness.checks.properties import Memo
    from harness.connectors.manifest import load_manifest
    from harness.contract import default_contract_path, load
    from harness.synth import Dataset
    from harness.synth import profile as get_profile

    contract = load(default_contract_path())
    streams = list(load_manifest(ROOT / connector / "connector.toml", contract).streams)
    edge = get_profile("edge")

    def non_latin(value: Any) -> bool:
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            return True
        return False

    tried: list[bool] = []  # per example of the current seed: whether the defect would show

    def attempt(drawn: tuple[int, dict[str, int]]) -> None:
        if True in tried:  # found for this seed: the rest need not be built
            tried.append(False)
            return
        data_seed, sizes = drawn
        sizes = {name: sizes.get(name, 0) for name in contract.collections}
        data = Dataset(contract, seed=data_seed, **edge.dataset_options(contract, sizes))
        tried.append(
            any(
                isinstance(v, str) and non_latin(v)
                for stream in streams
                for record in data.records(stream)
                for v in record.values()
            )
        )

    firsts: list[int | None] = []
    for seed in range(1, seeds + 1):
        tried.clear()
        ctx = CheckContext(check_id="RES-04", sandbox=None, contract=None, manifest=None, seed=seed)  # type: ignore[arg-type]
        hostile_test(attempt, streams, ctx.seed_for("hostile"), Memo())()
        firsts.append(tried.index(True) + 1 if True in tried else None)
    return firsts


def lower_bound(caught: int, n: int, alpha: float = 0.05) -> float:
    """One-sided Clopper-Pearson lower bound on the catch rate: the p at which `caught` or more
    catches in `n` would happen only `alpha` of the time (bisection on the binomial tail)."""
    if caught == 0:
        return 0.0

    def tail(p: float) -> float:
        return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(caught, n + 1))

    low, high = 0.0, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if tail(mid) < alpha else (low, mid)
    return low


def targets(checks: list[str], also: bool) -> list[tuple[str, str, str]]:
    """(check, connector folder, words its message must hold) for every flawed connector that
    expect.toml says fails one of `checks` (its own check; with `also`, its [also] list)."""
    out = []
    for folder in sorted(p for p in FLAWED.iterdir() if (p / "expect.toml").is_file()):
        expect = tomllib.loads((folder / "expect.toml").read_text())
        connector = str(folder.relative_to(ROOT))
        if expect["check"] in checks:
            out.append((expect["check"], connector, expect["words"]))
        if also:
            out += [(c, connector, "") for c in expect.get("also", {}) if c in checks]
    return sorted(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seeds", nargs="?", type=int, default=30, help="seeds 1..N per pair (default 30)")
    parser.add_argument("--reference", type=int, default=3, help=f"seeds on {REFERENCE} (default 3)")
    parser.add_argument("--jobs", type=int, default=2, help="child certifications at once (default 2)")
    parser.add_argument("--also", action="store_true", help="also the connectors' [also] lists")
    parser.add_argument("--checks", default=",".join(budgets()), help="comma-separated check ids")
    parser.add_argument(
        "--model",
        type=int,
        default=0,
        metavar="K",
        help="also RES-04's model on seeds 1..K (draws its examples and builds their tenants, no syncs)",
    )
    args = parser.parse_args()
    checks = [c.strip() for c in args.checks.split(",") if c.strip()]
    unknown = sorted(set(checks) - set(budgets()))
    if unknown:
        parser.error(f"not a property-based check: {', '.join(unknown)} (choose from {', '.join(budgets())})")
    pairs = targets(checks, args.also)
    for check in sorted(set(checks) - {c for c, _, _ in pairs}):
        print(
            f"{check}: no flawed connector names it in its expect.toml; only the reference runs", flush=True
        )
    jobs = [(c, conn, s) for c, conn, _ in pairs for s in range(1, args.seeds + 1)]
    jobs += [(c, REFERENCE, s) for c in checks for s in range(1, args.reference + 1)]
    started = time.perf_counter()

    def one(job: tuple[str, str, int]) -> Run:
        run = certify(*job)
        print(f"  {run.check} {run.connector} seed {run.seed}: {run.status}", file=sys.stderr, flush=True)
        return run

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        runs = list(pool.map(one, jobs))
    bad = 0
    for check, connector, words in pairs:
        mine = [r for r in runs if r.check == check and r.connector == connector]
        caught = [r for r in mine if r.status == "failed" and words in r.message]
        other = [r for r in mine if r.status == "failed" and words not in r.message]
        missed = [r for r in mine if r.status == "passed"]
        broken = [r for r in mine if r.status not in ("failed", "passed")]
        firsts = [r.first_failure for r in caught + other if r.first_failure is not None]
        first = (
            f"first failing example: mean {statistics.mean(firsts):.1f}, max {max(firsts)} "
            f"({len(firsts)} runs say)"
            if firsts
            else "first failing example: not recorded"
        )
        n = len(mine)
        if not n:
            print(f"{check} on {connector}: not certified (0 seeds asked for)", flush=True)
            continue
        print(
            f"{check} on {connector}: caught {len(caught)}/{n} ({len(caught) / n:.0%}; 95% lower bound "
            f"{lower_bound(len(caught), n):.1%}); budget {budgets()[check]}; {first}; "
            f"mean {statistics.mean(r.seconds for r in mine):.0f} s a run",
            flush=True,
        )
        for r in other:
            print(f"  seed {r.seed}: failed, but without {words!r}: {r.message[:200]}\n    {r.replay}")
        for r in missed:
            print(f"  MISSED seed {r.seed}: {r.replay}")
        for r in broken:
            print(f"  NO VERDICT seed {r.seed} ({r.status}): {r.message[:200]}\n    {r.replay}")
        bad += len(other) + len(missed) + len(broken)
    for check in checks:
        mine = [r for r in runs if r.check == check and r.connector == REFERENCE]
        false = [r for r in mine if r.status != "passed"]
        print(
            f"{check} on {REFERENCE}: {len(mine) - len(false)}/{len(mine)} passed (seeds 1..{args.reference})"
        )
        for r in false:
            print(f"  FALSE {r.status.upper()} seed {r.seed}: {r.message[:200]}\n    {r.replay}")
        bad += len(false)
    print(f"{len(runs)} certifications in {time.perf_counter() - started:.0f} s", flush=True)
    if args.model:
        connector = "tests/connectors/flawed/crashes_on_non_latin_text"
        firsts = res04_model(args.model, connector)
        hits = [f for f in firsts if f is not None]
        measured = {r.seed: r.first_failure for r in runs if r.check == "RES-04" and r.connector == connector}
        agree = sum(1 for seed, first in measured.items() if firsts[seed - 1] == first) if measured else 0
        print(
            f"RES-04 model on {connector}, seeds 1..{args.model}: a non-latin-1 text within the budget "
            f"on {len(hits)}/{args.model} ({lower_bound(len(hits), args.model):.1%} lower bound); first at "
            "example "
            f"mean {statistics.mean(hits) if hits else 0:.1f}, max {max(hits, default=0)}; the model's first "
            f"example is the measured first failing one on {agree}/{len(measured)} certified seeds",
            flush=True,
        )
        misses = [seed for seed, first in enumerate(firsts, 1) if first is None]
        if misses:
            print(f"  model misses seeds {misses[:20]}", flush=True)
        bad += len(misses) + len(measured) - agree
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
