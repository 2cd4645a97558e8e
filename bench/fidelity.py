"""Fidelity: how contract-true the sandbox is on real published specs (`make fidelity`).

For each spec of the corpus (bench/corpus.toml, fetched by bench/corpus.py): start
`harness sandbox serve --contract SPEC` on a loopback port, create a tenant through the control
API, run schemathesis 4 (`st run --checks all`) against the tenant's base URL with the tenant's
credentials, and read its NDJSON event stream. Printed per spec and in total:

- starts / load s: the sandbox started (and how long until "ready");
- tenant: the control API created a tenant (its status code otherwise);
- ops: operations schemathesis tested;
- nonconf: share of tested operations where a *valid* (positive-mode) request got an answer
  failing status_code / content_type / response_headers / response_schema conformance;
- 204body: operations that fail only on a 204/304 whose documented content HTTP forbids
  sending (RFC 9110; schemathesis reads the empty body as malformed JSON): counted apart;
- 5xx: responses with a 5xx status (501 "not served" counted apart), and crashes (the sandbox
  process died);
- 401/3: valid requests answered 401 or 403. Schemathesis' `ignored_auth` check re-sends a case
  without its credential or with a wrong one (a child case of the same mode, no state transition
  applied): those copies are not valid requests, so they count neither here nor as
  non-conforming (their 401 is the sandbox doing its job, documented or not);
- hangs: requests that timed out.
Targets: every spec usable, nonconf <= 3%, 0 crashes, 0 hangs, 0 5xx. Then the dominant failure
reasons per check, with examples, so the work can be aimed. Bounded: per-request timeout,
per-spec time limit, --max-examples; only 127.0.0.1. Asserts nothing; exits 0.

    python bench/fidelity.py [--only NAME[,NAME]] [--max-examples N] [--time-limit S] [--json out.json]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlparse

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus

CONFORMANCE = (
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
ADMIN = "fidelity-admin-token"
GENEROUS = {"rate": 100_000, "burst": 100_000}  # so 429s do not crowd out everything else
START_TIMEOUT = 90.0
TARGET_NONCONF = 0.03
NO_BODY = (204, 304)  # RFC 9110: no body, so documented content cannot be sent (schemathesis flags it)


@dataclass
class Result:
    name: str
    source: str
    started: bool = False
    load_s: float | None = None
    start_error: str | None = None
    tenant_status: int | None = None
    tenant_error: str | None = None
    credentials: list[str] = field(default_factory=list)  # which schemes we could satisfy
    operations: int = 0
    nonconforming: int = 0
    bodiless: int = 0  # operations failing only on a 204/304 the contract documents a body for
    server_errors: int = 0  # 5xx responses other than 501
    not_served: int = 0  # 501 responses
    auth_refused_valid: int = 0  # positive requests answered 401/403
    auth_probes: int = 0  # schemathesis' ignored_auth re-sends (no or a wrong credential): not valid
    positive_cases: int = 0
    hangs: int = 0
    crashed: bool = False
    crash: str | None = None  # the sandbox's exit code and last line of stderr, where it died
    timed_out: bool = False  # schemathesis hit the per-spec time limit
    st_seconds: float = 0.0
    failures: dict[str, dict[str, list[dict[str, str]]]] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return self.started and self.tenant_status == 201

    @property
    def share(self) -> float:
        return self.nonconforming / self.operations if self.operations else 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _harness() -> list[str]:
    exe = Path(sys.executable).with_name("harness")
    return [str(exe)] if exe.exists() else [shutil.which("harness") or "harness"]


def _st() -> str:
    exe = Path(sys.executable).with_name("st")
    return str(exe) if exe.exists() else (shutil.which("st") or "st")


def _document(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def token_url(doc: dict[str, Any], tenant: dict[str, Any]) -> str | None:
    """Where the tenant's token endpoint is: the control API's `token_url`, else the path of an
    OAuth2 flow's `tokenUrl` under the tenant (the sandbox serves it there even when it is not
    a path of the contract or is on another host: Spotify's accounts.spotify.com/api/token)."""
    if tenant.get("token_url"):
        return str(tenant["token_url"])
    root = str(tenant.get("base_url", "")).partition(f"/t/{tenant.get('id')}")
    schemes = (doc.get("components") or {}).get("securitySchemes") or {}
    for scheme in schemes.values():
        flows = scheme.get("flows") if isinstance(scheme, dict) else None
        for flow in (flows or {}).values():
            url = flow.get("tokenUrl") if isinstance(flow, dict) else None
            if isinstance(url, str) and url and root[1]:
                path = urlparse(url).path or "/"
                return root[0] + root[1] + (path if path.startswith("/") else "/" + path)
    return None


def auth_config(doc: dict[str, Any], tenant: dict[str, Any]) -> tuple[str, list[str]]:
    """A schemathesis.toml with the tenant's credential for each security scheme the spec
    declares (`[auth.openapi.NAME]`), so schemathesis puts each one where its scheme says:
    header, query or cookie API keys, basic, bearer. OAuth2 and OpenID Connect get a token from
    the token endpoint. Also which schemes were satisfied (for the printout)."""
    schemes = (doc.get("components") or {}).get("securitySchemes") or {}
    secret, client_id = tenant.get("client_secret", ""), tenant.get("client_id", "")
    token: str | None = None
    url = token_url(doc, tenant)
    if url:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            answer = httpx.post(
                url, data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=10
            )
            token = answer.json().get("access_token") if answer.status_code == 200 else None
    lines: list[str] = []
    used: list[str] = []
    for name, scheme in schemes.items():
        if not isinstance(scheme, dict):
            continue
        kind, http = scheme.get("type"), str(scheme.get("scheme", "")).lower()
        entry: dict[str, str] | None = None
        if kind == "apiKey" and scheme.get("in") in ("header", "query", "cookie") and scheme.get("name"):
            entry = {"api_key": secret}
            used.append(f"{name}:{scheme['in']}")
        elif kind == "http" and http == "basic":
            entry = {"username": client_id, "password": secret}
            used.append(f"{name}:basic")
        elif kind == "http":
            entry = {"bearer": secret}
            used.append(f"{name}:bearer")
        elif kind in ("oauth2", "openIdConnect") and token:
            entry = {"bearer": token}
            used.append(f"{name}:token")
        else:
            used.append(f"{name}:UNSATISFIED({kind}{'/' + http if http else ''})")
        if entry:
            lines.append(f"[auth.openapi.{json.dumps(name)}]")
            lines += [f"{key} = {json.dumps(value)}" for key, value in entry.items()]
    return "\n".join(lines) + "\n", used


def implicit_headers(doc: dict[str, Any], tenant: dict[str, Any]) -> list[str]:
    """`Name: value` headers for the credentials the control API lists for schemes the document
    does not declare (the implicit token of a contract that documents 401s but declares no
    scheme, as GitHub's does): schemathesis cannot place those by scheme, so every request
    carries them."""
    declared = set((doc.get("components") or {}).get("securitySchemes") or {})
    return [
        f"{c['name']}: {c['value']}"
        for c in tenant.get("credentials") or []
        if c.get("scheme") not in declared and c.get("in") == "header" and c.get("name")
    ]


_NORMALIZE = [
    (re.compile(r"'[^']{0,200}'"), "'…'"),
    (re.compile(r'"[^"]{0,200}"'), '"…"'),
    (re.compile(r"\b\d+(\.\d+)?\b"), "N"),
]


def reason(message: str) -> str:
    """A failure message with its instance values masked, so like failures group together."""
    line = next((part.strip() for part in message.splitlines() if part.strip()), "")
    for pattern, mask in _NORMALIZE:
        line = pattern.sub(mask, line)
    return line[:160]


def parse_events(path: Path, result: Result, examples: int = 3) -> None:
    """Fill `result` from schemathesis' NDJSON events."""
    tested: set[str] = set()
    nonconf: set[str] = set()
    bodiless: set[str] = set()
    if not path.exists():
        return
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        ((kind, body),) = event.items() if isinstance(event, dict) and len(event) == 1 else (("", {}),)
        if "Error" in kind and "timeout" in json.dumps(body).lower():
            result.hangs += 1
        if kind != "ScenarioFinished" or not isinstance(body, dict):
            continue
        recorder = body.get("recorder") or {}
        label = recorder.get("label", "?")
        cases, checks = recorder.get("cases") or {}, recorder.get("checks") or {}
        interactions = recorder.get("interactions") or {}
        for case_id, case in cases.items():
            value = case.get("value") or {}
            mode = ((value.get("meta") or {}).get("generation") or {}).get("mode")
            response = (interactions.get(case_id) or {}).get("response")
            status = response.get("status_code") if response else None
            if status is not None:
                if status == 501:
                    result.not_served += 1
                elif status >= 500:
                    result.server_errors += 1
            if mode != "positive":
                continue
            if case.get("parent_id") and not case.get("is_transition_applied"):
                result.auth_probes += 1  # ignored_auth's copy without (or with a wrong) credential
                continue
            tested.add(label)
            result.positive_cases += 1
            if status in (401, 403):
                result.auth_refused_valid += 1
            for check in checks.get(case_id, []):
                if check.get("status") != "failure":
                    continue
                name = check.get("name", "?")
                failure = (check.get("failure_info") or {}).get("failure") or {}
                message = f"{failure.get('title', '')}: {failure.get('message', '')}".strip(": ")
                if "timeout" in message.lower() or "timed out" in message.lower():
                    result.hangs += 1
                if name in CONFORMANCE and status in NO_BODY:
                    bodiless.add(label)  # the contract documents a body HTTP forbids: unservable
                    continue
                if name in CONFORMANCE:
                    nonconf.add(label)
                if name in (*CONFORMANCE, "not_a_server_error"):
                    why = reason(message)
                    if name in ("status_code_conformance", "not_a_server_error"):
                        why = f"{why} [{status}]"  # 501 (not served) and 500 (a bug) apart
                    bucket = result.failures.setdefault(name, {}).setdefault(why, [])
                    if len(bucket) < examples:
                        bucket.append({"operation": label, "status": str(status), "message": message[:400]})
                    else:
                        bucket.append({})  # counted, not shown
    result.operations = len(tested)
    result.nonconforming = len(nonconf)
    result.bodiless = len(bodiless - nonconf)


def run_spec(spec: corpus.Spec, max_examples: int, time_limit: float, seed: int) -> Result:
    result = Result(spec.name, spec.source)
    path = corpus.fetch(spec)
    port = _free_port()
    begin = time.monotonic()
    serve = [*_harness(), "sandbox", "serve", "--contract", str(path), "--port", str(port)]
    server, ready, errors = start_server(
        [*serve, "--admin-token", ADMIN], {**os.environ, "HARNESS_SEED": str(seed)}
    )
    try:
        while not ready.wait(0.1):
            if server.poll() is not None or time.monotonic() - begin > START_TIMEOUT:
                break
        if not ready.is_set():
            server.kill()
            server.wait(10)
            err = _tail(errors)
            result.start_error = (err.splitlines()[-1] if err else f"not ready in {START_TIMEOUT:.0f} s")[
                :300
            ]
            return result
        result.started, result.load_s = True, time.monotonic() - begin
        control = f"http://127.0.0.1:{port}/_sandbox"
        try:
            answer = httpx.post(
                f"{control}/tenants",
                json={"rate_limit": GENEROUS},
                headers={"Authorization": f"Bearer {ADMIN}"},
                timeout=60,
            )
        except httpx.HTTPError as exc:
            result.tenant_error = f"{type(exc).__name__}: {exc}"
            return result
        result.tenant_status = answer.status_code
        if answer.status_code != 201:
            result.tenant_error = answer.text[:300]
            return result
        tenant = answer.json()
        document = _document(path)
        config, result.credentials = auth_config(document, tenant)
        headers = implicit_headers(document, tenant)
        result.credentials += [f"{h.partition(':')[0]}:implicit" for h in headers]
        with tempfile.TemporaryDirectory() as tmp:
            events = Path(tmp) / "events.ndjson"
            (Path(tmp) / "schemathesis.toml").write_text(config, encoding="utf-8")
            command = [
                _st(),
                "--config-file",
                str(Path(tmp) / "schemathesis.toml"),
                "run",
                str(path),
                "--url",
                tenant["base_url"],
                "--checks",
                "all",
                "--max-examples",
                str(max_examples),
                "--seed",
                str(seed),
                "--request-timeout",
                "10",
                "--workers",
                "1",
                "--report",
                "ndjson",
                "--report-ndjson-path",
                str(events),
                "--no-color",
                *(arg for header in headers for arg in ("--header", header)),
            ]
            started = time.monotonic()
            try:
                subprocess.run(command, capture_output=True, timeout=time_limit, cwd=tmp, check=False)
            except subprocess.TimeoutExpired:
                result.timed_out = True
            result.st_seconds = time.monotonic() - started
            parse_events(events, result)
        result.crashed = server.poll() is not None
        if result.crashed:
            result.crash = f"exit {server.returncode}: " + (_tail(errors).splitlines() or [""])[-1][:300]
        return result
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        errors.close()


def start_server(
    command: list[str], env: dict[str, str]
) -> tuple[subprocess.Popen[str], threading.Event, IO[str]]:
    """Start the sandbox; set the event when it prints "ready". Its stderr goes to an unnamed
    temporary file (appended to, so reading its tail never moves where the sandbox writes), never
    to a pipe nobody reads: a sandbox that logs more than a pipe holds (64 KiB: a few tracebacks
    on a large document) would block on its next write, and every request after would hang."""
    errors = tempfile.TemporaryFile("a+", encoding="utf-8", errors="replace")  # noqa: SIM115 (closed by run_spec)
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True, env=env)
    ready = threading.Event()

    def watch() -> None:
        for line in server.stdout:  # type: ignore[union-attr]
            if line.strip() == "ready":
                ready.set()

    threading.Thread(target=watch, daemon=True).start()
    return server, ready, errors


def _tail(errors: IO[str], size: int = 4096) -> str:
    errors.flush()
    end = errors.seek(0, os.SEEK_END)
    errors.seek(max(0, end - size))
    return errors.read().strip()


def _table(results: list[Result]) -> str:
    rows = [
        f"{'spec':22} {'starts':>6} {'load s':>7} {'tenant':>6} {'ops':>5} {'nonconf':>8} {'204body':>7} "
        f"{'5xx':>5} {'501':>5} {'401/3':>6} {'hangs':>5} {'st s':>6}"
    ]
    for r in results:
        rows.append(
            f"{r.name:22} {'yes' if r.started else 'NO':>6} "
            f"{(f'{r.load_s:.1f}' if r.load_s is not None else '-'):>7} "
            f"{(r.tenant_status or '-')!s:>6} {r.operations:>5} "
            f"{(f'{r.share:.0%}' if r.operations else '-'):>8} {r.bodiless:>7} "
            f"{r.server_errors:>5} {r.not_served:>5} "
            f"{r.auth_refused_valid:>6} {r.hangs:>5} {r.st_seconds:>5.0f}{'+' if r.timed_out else ' '}"
            + (" crashed" if r.crashed else "")
        )
    return "\n".join(rows)


def _totals(results: list[Result]) -> dict[str, Any]:
    ops = sum(r.operations for r in results)
    nonconf = sum(r.nonconforming for r in results)
    return {
        "specs": len(results),
        "started": sum(r.started for r in results),
        "usable": sum(r.usable for r in results),
        "operations": ops,
        "nonconforming": nonconf,
        "nonconforming_share": nonconf / ops if ops else 0.0,
        "bodiless_204": sum(r.bodiless for r in results),
        "server_errors_5xx": sum(r.server_errors for r in results),
        "not_served_501": sum(r.not_served for r in results),
        "positive_cases": sum(r.positive_cases for r in results),
        "auth_refused_valid": sum(r.auth_refused_valid for r in results),
        "auth_probes": sum(r.auth_probes for r in results),
        "crashes": sum(r.crashed for r in results),
        "hangs": sum(r.hangs for r in results),
    }


def _reasons(results: list[Result], top: int) -> str:
    merged: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    samples: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    specs_with: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    for r in results:
        for check, by_reason in r.failures.items():
            for why, items in by_reason.items():
                merged[check][why] += len(items)
                specs_with[check, why].add(r.name)
                for item in items:
                    if item and len(samples[check, why]) < 3:
                        samples[check, why].append(
                            f"{r.name} {item['operation']} -> {item['status']}: "
                            + " | ".join(item["message"][:240].split("\n"))
                        )
    out = []
    for check in sorted(merged, key=lambda c: -sum(merged[c].values())):
        out.append(f"\n{check}: {sum(merged[check].values())} failing valid requests")
        for why, count in merged[check].most_common(top):
            out.append(f"  {count:5}  [{len(specs_with[check, why])} specs]  {why}")
            out.extend(f"           e.g. {s}" for s in samples[check, why])
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated corpus names (default: all)")
    parser.add_argument("--max-examples", type=int, default=10)
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds of schemathesis per spec")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--top", type=int, default=6, help="reasons shown per check")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    chosen = corpus.specs()
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {s.name for s in chosen}
        if unknown:
            parser.error(f"not in the corpus: {sorted(unknown)}")
        chosen = [s for s in chosen if s.name in wanted]
    results = []
    for spec in chosen:
        result = run_spec(spec, args.max_examples, args.time_limit, args.seed)
        results.append(result)
        print(_table([result]).splitlines()[1], flush=True)
    totals = _totals(results)
    print("\n" + _table(results))
    print(
        f"\ntotal: {totals['usable']}/{totals['specs']} usable ({totals['started']} start), "
        f"{totals['operations']} operations tested, {totals['nonconforming_share']:.0%} non-conforming "
        f"to a valid request (target <= {TARGET_NONCONF:.0%}; {totals['bodiless_204']} more fail only on a "
        f"204/304 the contract documents a body for, which HTTP forbids), "
        f"{totals['server_errors_5xx']} 5xx + "
        f"{totals['not_served_501']} 501 (target 0), {totals['crashes']} crashes, {totals['hangs']} hangs; "
        f"{totals['auth_refused_valid']}/{totals['positive_cases']} valid requests refused 401/403"
    )
    for r in results:
        if not r.usable:
            print(f"  unusable {r.name}: {r.start_error or f'tenant {r.tenant_status}: {r.tenant_error}'}")
        if r.crash:
            print(f"  crashed {r.name}: {r.crash}")
        unsatisfied = [c for c in r.credentials if "UNSATISFIED" in c]
        if r.usable and unsatisfied:
            print(f"  no credential {r.name}: {', '.join(unsatisfied)}")
    print("\ndominant failure reasons on valid requests (count, specs, reason, examples):")
    print(_reasons(results, args.top))
    if args.json:
        payload = {"totals": totals, "specs": [{**asdict(r), "usable": r.usable} for r in results]}
        for spec in payload["specs"]:
            spec["failures"] = {
                check: {why: [i for i in items if i] + [{"count": len(items)}] for why, items in by.items()}
                for check, by in spec["failures"].items()
            }
        args.json.write_text(json.dumps(payload, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
