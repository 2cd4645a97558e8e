"""Fuzz campaigns: examples per second per target, and time to first finding on flawed connectors.

Each row is one short campaign (in this process, embedded sandbox, fixed seed); the reference
connector's rows are the anchor for the rate. Asserts nothing: figures are noisy on a shared box.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from harness.fuzz.campaign import Campaign
from harness.fuzz.findings import CampaignDir
from harness.fuzz.target import Limits
from harness.fuzz.world import World

ROOT = Path(__file__).resolve().parent.parent
FLAWED = ROOT / "tests" / "connectors" / "flawed"
RUNS = [
    (FLAWED / "crashes_on_non_latin_text", "responses"),
    (FLAWED / "feed_position_after_sync", "faults"),
    (FLAWED / "keeps_first_event", "state"),
    (FLAWED / "crashes_on_unknown_event", "webhooks"),
]


def run(connector: Path, target: str, budget: float, seed: int) -> tuple[float, float | None]:
    world = World.start(str(connector), seed=seed)
    try:
        with tempfile.TemporaryDirectory() as folder:
            campaign = Campaign(
                world, CampaignDir(Path(folder)), [target], budget, seed, Limits(512), str(connector), None
            )
            campaign.run()
            stats = campaign.stats[target]
            return stats.rate(), stats.first_finding_after
    finally:
        world.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per campaign (default 30)")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    print(f"{'target':<10} {'ref ex/s':>9} {'flawed ex/s':>12} {'ratio':>6}  first finding  connector")
    for connector, target in RUNS:
        ref_rate, _ = run(ROOT / "examples" / "acme_sync", target, args.budget, args.seed)
        rate, first = run(connector, target, args.budget, args.seed)
        ratio = rate / ref_rate if ref_rate else 0.0
        shown = f"{first:.1f} s" if first is not None else "none"
        print(f"{target:<10} {ref_rate:>9.2f} {rate:>12.2f} {ratio:>6.2f}  {shown:>13}  {connector.name}")


if __name__ == "__main__":
    main()
