"""stripe-python's own test suite against the sandbox serving Stripe's published spec.

stripe-python's tests are written to run against stripe-mock: `tests/conftest.py` points the
SDK at `http://localhost:$STRIPE_MOCK_PORT` with the key `sk_test_123`. The suite ships in the
sdist on the package registry, so it is fetched with pip (`pip download --no-binary :all:
--no-deps stripe==<the installed version>`) into the corpus cache. Stripe's spec comes from
bench/corpus.py.

"Mock-dependent" tests are the ones the suite itself skips under `--nomock` (they use its
`http_client_mock` fixture) and that do not pass against a server answering 404 to everything
(many of them stub the HTTP client and never need the mock's answers). The script runs the
suite three times (`--nomock`, against that blank server, against the sandbox) and prints the
share of the mock-dependent tests that pass. Target: 90% (stripe-mock: about 100%).
The sandbox runs as stripe-mock does for the suite: `--root-tenant` serves one tenant's API at
the port's root, `--root-secret sk_test_123` makes the suite's key that tenant's secret, and
`--lenient-ids` answers ids the suite never created (`cus_123`) with records made for them, and
`--tidy` gives every record its optional fields, as stripe-mock's fixtures have them.
Bounded: each pytest run has a time limit; only 127.0.0.1.

    python bench/stripe_suite.py [--time-limit S] [-k EXPR] [--stripe-version V]
"""

from __future__ import annotations

import argparse
import http.server
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus
import fidelity

MOCK_KEY = "sk_test_123"  # what the suite sends


def suite_dir(version: str) -> Path:
    """stripe-python's sdist (with its tests/) for `version`, fetched with pip once."""
    target = corpus.cache_dir() / f"stripe-python-{version}"
    if (target / "tests" / "conftest.py").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-binary",
                ":all:",
                "--no-deps",
                f"stripe=={version}",
                "-d",
                tmp,
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        sdists = list(Path(tmp).glob("stripe-*.tar.gz"))
        if done.returncode != 0 or not sdists:
            raise RuntimeError(f"pip download stripe=={version} failed: {done.stderr.strip()[-400:]}")
        with tarfile.open(sdists[0]) as tar:
            tar.extractall(tmp, filter="data")
        unpacked = Path(tmp) / f"stripe-{version}"
        if not (unpacked / "tests" / "conftest.py").is_file():
            raise RuntimeError(f"the stripe {version} sdist has no tests/conftest.py")
        unpacked.rename(target)
    return target


class _NotFound(http.server.BaseHTTPRequestHandler):
    """A server that knows nothing: every request is a 404. Tests that pass against it do not
    depend on the mock's answers (they stub the HTTP client), so they are not counted."""

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = b'{"error": {"message": "not found", "type": "invalid_request_error"}}'
        self.send_response(404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _answer

    def log_message(self, *args: object) -> None:
        pass


def run_suite(root: Path, port: int, extra: list[str], time_limit: float) -> dict[str, str]:
    """Outcome per test id (passed / failed:<message> / skipped:<reason>) from one bounded run."""
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "tests",
            "-q",
            "-p",
            "no:harness",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "--continue-on-collection-errors",
            "--rootdir",
            str(root),
            f"--junitxml={junit}",
            *extra,
        ]
        env = {**os.environ, "STRIPE_MOCK_PORT": str(port), "PYTHONPATH": str(root)}
        try:
            subprocess.run(command, cwd=root, env=env, capture_output=True, timeout=time_limit, check=False)
        except subprocess.TimeoutExpired:
            print(f"  pytest run stopped at the time limit ({time_limit:.0f} s)")
        if not junit.exists():
            return {}
        outcomes = {}
        for case in ET.parse(junit).iter("testcase"):
            name = f"{case.get('classname')}::{case.get('name')}"
            skipped = case.find("skipped")
            if skipped is not None:
                outcomes[name] = "skipped:" + (skipped.get("message") or "")
            elif (failed := _failure(case)) is not None:
                outcomes[name] = "failed:" + (failed.get("message") or "")
            else:
                outcomes[name] = "passed"
        return outcomes


def _failure(case: ET.Element) -> ET.Element | None:
    found = case.find("failure")  # an Element with no children is falsy: compare with None
    return found if found is not None else case.find("error")


def _reason(outcome: str) -> str:
    """A failure's message with what varies from test to test folded, so alike ones count together."""
    text = outcome.partition(":")[2].splitlines()[0] if outcome.partition(":")[2] else "(no message)"
    detail = re.search(r'"detail":\s*"([^"]*)"', text)  # the sandbox's own words, in a body the SDK quotes
    text = re.sub(r"'[^']*'", "'…'", text)
    if detail:
        text = f"{text}: {detail.group(1)}"
    return re.sub(r"\d+", "N", text)[:200]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds per pytest run")
    parser.add_argument("-k", dest="keyword", help="pytest -k expression (a subset of the suite)")
    parser.add_argument(
        "--stripe-version",
        help="the stripe-python release whose suite runs, with its own copy of the SDK (default: the "
        "installed one); a release of the spec's own API version tests only what the spec has",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryFile() as errors:  # the sandbox's stderr, shown if it does not start
        return _measure(args, errors)


def _measure(args: argparse.Namespace, errors: Any) -> int:
    version = args.stripe_version or metadata.version("stripe")
    root = suite_dir(version)
    spec = corpus.fetch_named("stripe")
    port = fidelity._free_port()
    extra = ["-k", args.keyword] if args.keyword else []
    server = subprocess.Popen(
        [
            *fidelity._harness(),
            "sandbox",
            "serve",
            "--contract",
            str(spec),
            "--port",
            str(port),
            "--admin-token",
            fidelity.ADMIN,
            # stripe-mock's way: the suite sets only host and port and sends sk_test_123, and
            # reads and writes ids it never created (cus_123)
            "--root-tenant",
            "--root-secret",
            MOCK_KEY,
            "--lenient-ids",
            "--tidy",
        ],
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    try:
        begin, root_line = time.monotonic(), "no root tenant (the sandbox did not start)"
        for line in server.stdout:  # type: ignore[union-attr]
            if line.startswith("root tenant:"):
                root_line = line.strip()
            if line.strip() == "ready" or time.monotonic() - begin > fidelity.START_TIMEOUT:
                break
        print(f"stripe-python {version} suite ({root}) against the sandbox on :{port}")
        print(f"  {root_line}")
        if server.poll() is not None:
            errors.seek(0)
            said = errors.read().decode(errors="replace")[-2000:]
            print(f"  the sandbox exited ({server.returncode}): {said}")
            return 1
        root_answer = httpx.get(
            f"http://127.0.0.1:{port}/v1/customers",
            headers={"Authorization": f"Bearer {MOCK_KEY}"},
            timeout=30,
        )
        print(f"  GET /v1/customers at the port's root with the suite's key: {root_answer.status_code}")
        offline = run_suite(root, port, ["--nomock", *extra], args.time_limit)
        uses_mock = {t for t, o in offline.items() if o.startswith("skipped:") and "stripe-mock" in o}
        blank = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
        threading.Thread(target=blank.serve_forever, daemon=True).start()
        try:
            against_nothing = run_suite(root, blank.server_address[1], extra, args.time_limit)
        finally:
            blank.shutdown()
        if uses_mock and not against_nothing:
            print("  no outcomes from the run against the blank server (time limit?): raise --time-limit")
            return 1
        dependent = {t for t in uses_mock if against_nothing.get(t) != "passed"}
        print(
            f"  {len(uses_mock)} tests use the mock fixture; {len(uses_mock) - len(dependent)} of them "
            "pass against a server answering 404 to everything, so they do not depend on it"
        )
        online = run_suite(root, port, extra, args.time_limit)
        passed = sum(online.get(t) == "passed" for t in dependent)
        if not online:
            print(
                "  no outcomes from the run against the sandbox (it hit the time limit); use -k for a subset"
            )
        print(f"  suite: {len(offline)} tests, {len(dependent)} mock-dependent")
        share = passed / len(dependent) if dependent else 0.0
        print(
            f"  mock-dependent tests passing against the sandbox: {passed}/{len(dependent)} = {share:.0%} "
            "(target 90%)"
        )
        reasons = Counter(_reason(online[t]) for t in dependent if online.get(t, "").startswith("failed:"))
        if reasons:
            print("  why the others fail (the SDK's words, ids and numbers folded):")
            for reason, count in reasons.most_common(12):
                print(f"    {count:5d}  {reason}")
        independent = [t for t in online if t not in dependent]
        print(
            f"  (the other {len(independent)} tests: "
            f"{sum(online[t] == 'passed' for t in independent)} pass; they do not need a mock)"
        )
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
