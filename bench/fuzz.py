"""Fuzz campaigns: examples per second per target, and time to first finding on flawed connectors.

Each row is two short campaigns of one target in this process (embedded sandbox, fixed seed):
the reference connector's, the anchor for the rate, and a flawed connector's, for how soon the
campaign meets its defect (the first failing example) and files it (shrunk, `--shrink-seconds`).
Asserts nothing: the figures are noisy on a shared machine; compare the ratio column, not the
absolute rates, between runs.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from harness.fuzz.campaign import Campaign
from harness.fuzz.findings import CampaignDir
from harness.fuzz.target import Limits
from harness.fuzz.world import World

ROOT = Path(__file__).resolve().parent.parent
FLAWED = ROOT / "tests" / "connectors" / "flawed"
FUZZ = ROOT / "tests" / "fuzz" / "connectors"
REFERENCE = ROOT / "examples" / "acme_sync"
RUNS = [
    (FLAWED / "crashes_on_non_latin_text", "responses"),
    (FLAWED / "feed_position_after_sync", "faults"),
    (FLAWED / "keeps_first_event", "state"),
    (FLAWED / "crashes_on_unknown_event", "webhooks"),
    (FUZZ / "trusts_event_shape", "webhooks"),
    (FUZZ / "logs_changed_records", "canaries"),
    (FUZZ / "grows_per_sync", "soak"),
    (FLAWED / "token_in_query", "responses"),
]


def run(connector: Path, target: str, budget: float, seed: int, shrink: float) -> dict[str, float | None]:
    world = World.start(str(connector), seed=seed)
    try:
        with tempfile.TemporaryDirectory() as folder:
            campaign = Campaign(
                world,
                CampaignDir(Path(folder)),
                [target],
                budget,
                seed,
                Limits(512),
                str(connector),
                None,
                shrink_seconds=shrink,
            )
            campaign.run()
            stats = campaign.stats[target]
            return {
                "rate": stats.rate(),
                "failure": stats.first_failure_after,
                "finding": stats.first_finding_after,
                "findings": float(len(campaign.findings)),
            }
    finally:
        world.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per campaign (default 20)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--shrink-seconds", type=float, default=10.0, help="default 10")
    parser.add_argument("--only", default="", help="comma-separated targets to run (default: all)")
    args = parser.parse_args()
    wanted = {t for t in args.only.split(",") if t}
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(
        f"{'target':<10} {'ref ex/s':>9} {'flawed ex/s':>12} {'ratio':>6} {'1st failure':>12} "
        f"{'1st finding':>12} {'ref findings':>12}  connector"
    )
    references: dict[str, dict[str, float | None]] = {}
    for connector, target in RUNS:
        if wanted and target not in wanted:
            continue
        if target not in references:
            references[target] = run(REFERENCE, target, args.budget, args.seed, args.shrink_seconds)
        ref = references[target]
        flawed = run(connector, target, args.budget, args.seed, args.shrink_seconds)
        ref_rate, rate = float(ref["rate"] or 0.0), float(flawed["rate"] or 0.0)
        ratio = rate / ref_rate if ref_rate else 0.0
        print(
            f"{target:<10} {ref_rate:>9.2f} {rate:>12.2f} {ratio:>6.2f} {_seconds(flawed['failure']):>12} "
            f"{_seconds(flawed['finding']):>12} {int(ref['findings'] or 0):>12}  {connector.name}",
            flush=True,
        )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def _seconds(value: float | None) -> str:
    return f"{value:.1f} s" if value is not None else "none"


if __name__ == "__main__":
    main()
