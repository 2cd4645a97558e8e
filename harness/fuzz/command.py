"""`harness fuzz`: options, usage errors (exit 2), and the exit status (1 when there are findings)."""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Any

USAGE = 2
BUDGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")
DEFAULT_TARGETS = ("responses", "faults", "state", "webhooks", "canaries", "soak")


def add_parser(commands: Any) -> argparse.ArgumentParser:
    fuzz = commands.add_parser(
        "fuzz",
        help="fuzz a connector until a time budget ends; exit 1 on findings",
        description="A campaign on the sandbox and isolated connector of a certification: hypothesis "
        "tries hostile responses, fault sequences, interleaved changes and syncs, signed webhook "
        "deliveries, canaries in undeclared fields and successive syncs in one process, shrinks "
        "every failure to a minimal input and files each unique finding (by oracle and location) "
        "in the campaign directory with a one-line replay. Exit status: 0 no findings, "
        "1 findings (or, with --replay, the finding still fails), 2 usage error.",
    )
    fuzz.add_argument("--connector", metavar="PATH", help="connector.toml, its folder, or module:Class")
    fuzz.add_argument("--contract", metavar="FILE", help="the platform contract (default: the bundled one)")
    fuzz.add_argument(
        "--budget", type=budget, default=None, help="how long to fuzz: 90s, 30m, 2h (default: 30m)"
    )
    fuzz.add_argument(
        "--targets",
        type=targets,
        default=None,
        help=f"comma-separated, from {','.join(DEFAULT_TARGETS)} (default: all)",
    )
    fuzz.add_argument("--seed", type=int, default=None, help="reproduces a campaign (default: 0)")
    fuzz.add_argument("--dir", metavar="CAMPAIGN", help="the campaign directory (default: ./fuzz-campaign)")
    fuzz.add_argument("--resume", action="store_true", help="continue the campaign in --dir")
    fuzz.add_argument("--replay", metavar="FINDING", help="run a saved finding's minimal input again")
    fuzz.add_argument(
        "--connector-timeout", type=float, default=None, help="seconds one call may take (default: 30)"
    )
    fuzz.add_argument(
        "--memory-limit",
        type=int,
        default=None,
        metavar="MIB",
        help="a ceiling on peak memory in any example (default: 512); leaks are judged by growth (soak)",
    )
    fuzz.add_argument(
        "--shrink-seconds", type=float, default=None, help="time to shrink one finding (default: 20)"
    )
    fuzz.add_argument(
        "--max-findings",
        type=int,
        default=0,
        metavar="N",
        help="stop once N new findings are filed, before the budget ends (default: 0, spend the "
        "budget); --max-findings 1 makes a CI gate fail fast",
    )
    fuzz.add_argument("--sandbox", default="embedded", help="embedded (default), container or url:URL")
    return fuzz


def budget(text: str) -> float:
    match = BUDGET.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a budget: use seconds, or 90s, 30m, 2h")
    return float(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2) or "s"]


def targets(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [n for n in names if n not in DEFAULT_TARGETS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown target(s) {', '.join(unknown) or '(none)'}: use {','.join(DEFAULT_TARGETS)}"
        )
    return list(dict.fromkeys(names))


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from harness.fuzz.findings import CampaignDir, FindingError, read_finding

    if args.replay:
        try:
            finding = read_finding(Path(args.replay))
        except FindingError as exc:
            parser.error(str(exc))
        return _replay(args, parser, finding)
    directory = CampaignDir(Path(args.dir or "fuzz-campaign"))
    try:
        saved = directory.load_state()
    except FindingError as exc:
        parser.error(str(exc))
    if args.resume and saved is None:
        parser.error(f"--resume: {directory.root} holds no campaign (no campaign.json); drop --resume")
    if not args.resume and saved is not None:
        parser.error(f"{directory.root} already holds a campaign: add --resume, or pick another --dir")
    saved = saved or {}
    connector = args.connector or saved.get("connector")
    if not connector:
        parser.error("--connector is required (a connector.toml, its folder, or module:Class)")
    settings = {
        "connector": connector,
        "contract": args.contract or saved.get("contract"),
        "seed": args.seed if args.seed is not None else int(saved.get("seed", 0)),
        "targets": args.targets or saved.get("targets") or list(DEFAULT_TARGETS),
        "call_timeout": args.connector_timeout or float(saved.get("call_timeout", 30.0)),
        "memory_mib": args.memory_limit or int(saved.get("memory_mib", 512)),
    }
    world = _world(parser, settings, args.sandbox)
    from harness.fuzz.campaign import Campaign, TargetStats
    from harness.fuzz.report import write_reports
    from harness.fuzz.target import Limits

    try:
        campaign = Campaign(
            world,
            directory,
            settings["targets"],
            args.budget if args.budget is not None else 1800.0,
            settings["seed"],
            Limits(settings["memory_mib"]),
            settings["connector"],
            settings["contract"],
            shrink_seconds=args.shrink_seconds or 20.0,
            max_findings=max(args.max_findings, 0),
            out=sys.stderr,
            elapsed_before=float(saved.get("elapsed", 0.0)),
        )
        for name, data in (saved.get("stats") or {}).items():
            if name in campaign.stats:
                campaign.stats[name] = TargetStats.from_dict(data)
        try:
            campaign.run()
        except KeyboardInterrupt:
            print("interrupted: the campaign is saved; continue it with --resume", file=sys.stderr)
        paths = write_reports(campaign)
    finally:
        world.close()
    print(f"{len(campaign.findings)} finding(s); report: {paths[0]} and {paths[1]}")
    for finding in campaign.findings.values():
        print(f"  {finding.id} [{finding.target}] {finding.message.splitlines()[0][:160]}")
        print(f"    replay: {finding.replay_command(directory.path_of(finding))}")
    return 1 if campaign.findings else 0


def _world(parser: argparse.ArgumentParser, settings: dict[str, Any], sandbox: str) -> Any:
    from harness.connectors import ConnectorLoadError, ManifestError
    from harness.contract import ContractError
    from harness.fuzz.world import World

    try:
        return World.start(
            settings["connector"],
            settings["contract"],
            sandbox=sandbox,
            call_timeout=settings["call_timeout"],
            seed=settings["seed"],
        )
    except (ContractError, ManifestError, ConnectorLoadError, ValueError, OSError) as exc:
        parser.error(str(exc))


def _replay(args: argparse.Namespace, parser: argparse.ArgumentParser, finding: Any) -> int:
    from harness.fuzz.campaign import TARGETS, replay
    from harness.fuzz.target import Limits

    if finding.target not in TARGETS:
        parser.error(f"{args.replay}: unknown target {finding.target!r}; use {', '.join(TARGETS)}")
    connector = args.connector or finding.connector
    if not connector:
        parser.error("--connector is required: the finding names no connector")
    settings = {
        "connector": connector,
        "contract": args.contract or finding.contract,
        "seed": args.seed or 0,
        "call_timeout": args.connector_timeout or 30.0,
    }
    world = _world(parser, settings, args.sandbox)
    started = time.monotonic()
    try:
        outcome = replay(world, finding, Limits(args.memory_limit or 512))
    finally:
        world.close()
    same = [p for p in outcome.problems if p.key == finding.key]
    print(f"finding {finding.id} ({finding.target}): {finding.described}")
    if same:
        print(f"reproduced in {time.monotonic() - started:.1f} s: {same[0].message}")
        return 1
    others = "; ".join(p.message for p in outcome.problems)
    print("no longer fails" + (f" the same way (now: {others})" if others else "") + f": {finding.key}")
    return 1 if outcome.problems else 0
