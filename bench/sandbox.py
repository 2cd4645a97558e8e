"""Sandbox throughput, tail latency and tenant isolation, side by side in one run; asserts nothing.

Workload: authenticated, validated `GET /v1/contacts?limit=50` on the bundled contract, load from
wrk (Debian package `wrk`) in another process, one server process each, loopback only.
- the sandbox (`harness sandbox serve`), and with `--baseline REV` the sandbox of a git worktree
  of REV, run in the same invocation (before/after on the same machine load);
- the raw ASGI ceiling, always: an ASGI callable sending the sandbox's bytes, under uvicorn with
  httptools and uvloop: what Python can serve on this machine; and the same callable under the
  sandbox's own server options (harness.runtime.http: head and body in one send), for reference;
- Prism's static mock of the same contract (errors-only logging), when `prism` is installed
  (`npm install -g @stoplight/prism-cli`).
Then 1,000 tenants in one process: one tenant's client floods (and is refused with 429s) while
another tenant's sequential client measures its median latency.
Targets (issue 17): req/s at concurrency 16 >= 5x Prism static and >= 0.4x the ceiling; p99 at
concurrency 64 under 10 ms; a flood slows the neighbour's median by at most 1.5x. The machine may
be shared: read the ratios of one run, not the absolute figures.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
DURATION = "5s"
LEVELS = (16, 64)
ADMIN = {"Authorization": "Bearer bench"}
TARGETS = {"prism": 5.0, "ceiling": 0.4, "p99_ms": 10.0, "flood": 1.5}

Result = dict[str, float]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def wrk(url: str, connections: int, headers: dict[str, str], duration: str = DURATION) -> Result:
    args = ["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", duration, "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, timeout=120).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"wrk printed no rate:\n{out}")
    return {
        "rps": float(found.group(1)),
        "p50": _ms(out, "50%"),
        "p99": _ms(out, "99%"),
        "non2xx": int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0,
    }


def _ms(out: str, label: str) -> float:
    found = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)", out)
    if found is None:
        return float("nan")
    value, unit = found.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


@contextmanager
def running(args: list[str], port: int, cwd: Path = ROOT) -> Iterator[None]:
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_port(port, proc)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def sandbox(port: int) -> list[str]:
    """`harness sandbox serve`; run with cwd at a checkout, that checkout's `harness` is imported."""
    return [
        sys.executable,
        "-m",
        "harness.cli",
        "sandbox",
        "serve",
        "--port",
        str(port),
        "--admin-token",
        "bench",
    ]


def tenant(root: str, rate: float = 1e6, burst: int = 1_000_000, size: int = 10_000) -> tuple[str, str]:
    spec = httpx.post(
        f"{root}/_sandbox/tenants",
        headers=ADMIN,
        json={"seed": 1, "sizes": {"contacts": size}, "rate_limit": {"rate": rate, "burst": burst}},
    ).json()
    form = {
        "grant_type": "client_credentials",
        "client_id": spec["client_id"],
        "client_secret": spec["client_secret"],
    }
    token = httpx.post(spec["token_url"], data=form).json()["access_token"]
    return spec["base_url"], token


def measure(url: str, headers: dict[str, str]) -> dict[int, Result]:
    wrk(url, 16, headers, "1s")  # warm-up: first pages fill the caches of every server alike
    return {c: wrk(url, c, headers) for c in LEVELS}


def measure_sandbox(source: Path) -> tuple[dict[int, Result], bytes]:
    port = free_port()
    with running(sandbox(port), port, cwd=source):
        base, token = tenant(f"http://127.0.0.1:{port}")
        url = base + "/v1/contacts?limit=50"
        auth = {"Authorization": f"Bearer {token}"}
        body = httpx.get(url, headers=auth).content
        return measure(url, auth), body


CEILING = """
import uvicorn
BODY = open({body!r}, "rb").read()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
async def app(scope, receive, send):
    await send({{"type": "http.response.start", "status": 200, "headers": HEADERS}})
    await send({{"type": "http.response.body", "body": BODY}})
if {ours!r}:  # the sandbox's own server options (harness.runtime.http)
    from harness.runtime.http import server_options
    options = server_options()
else:  # stock uvicorn with httptools and uvloop: the issue's ceiling
    options = dict(http="httptools", loop="uvloop")
uvicorn.run(app, host="127.0.0.1", port={port}, log_level="warning", access_log=False,
            lifespan="off", **options)
"""


def measure_ceiling(body: bytes, folder: Path, ours: bool = False) -> dict[int, Result]:
    port = free_port()
    (folder / "body.json").write_bytes(body)
    script = folder / "ceiling.py"
    script.write_text(textwrap.dedent(CEILING.format(body=str(folder / "body.json"), port=port, ours=ours)))
    with running([sys.executable, str(script)], port):
        return measure(f"http://127.0.0.1:{port}/v1/contacts?limit=50", {})


def measure_prism() -> dict[int, Result] | None:
    exe = shutil.which("prism")
    if exe is None:
        return None
    port = free_port()
    contract = str(ROOT / "contracts" / "platform.openapi.yaml")
    with running([exe, "mock", "-p", str(port), "-v", "error", contract], port):
        return measure(f"http://127.0.0.1:{port}/v1/contacts?limit=50", {"Authorization": "Bearer x"})


def flood(source: Path) -> Result:
    """1,000 tenants; tenant B's median latency alone, then while tenant A's client floods (429s)."""
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    with running(sandbox(port), port, cwd=source), httpx.Client() as admin:
        for _ in range(998):
            admin.post(f"{root}/_sandbox/tenants", headers=ADMIN, json={"sizes": {"contacts": 100}})
        flooder_base, flooder_token = tenant(root, rate=50, burst=50)
        quiet_base, quiet_token = tenant(root)
        quiet = httpx.Client(headers={"Authorization": f"Bearer {quiet_token}"})

        def median_ms(n: int = 300) -> float:
            out = []
            for _ in range(n):
                started = time.perf_counter()
                quiet.get(quiet_base + "/v1/contacts?limit=50")
                out.append((time.perf_counter() - started) * 1000)
            return statistics.median(out)

        median_ms(50)  # warm-up
        alone = median_ms()
        command = ["wrk", "-t", "1", "-c", "16", "-d", "10s", "-H", f"Authorization: Bearer {flooder_token}"]
        flooding = subprocess.Popen(
            [*command, flooder_base + "/v1/contacts?limit=50"],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1)
        during = median_ms()
        out = flooding.communicate(timeout=60)[0]
        refused = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        total = re.search(r"(\d+) requests in", out)
        return {
            "alone_ms": alone,
            "during_ms": during,
            "slowdown": during / alone,
            "flood_requests": float(total.group(1)) if total else 0.0,
            "flood_429": float(refused.group(1)) if refused else 0.0,
        }


@contextmanager
def worktree(rev: str | None) -> Iterator[Path | None]:
    if rev is None:
        yield None
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "baseline"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), rev],
            check=True,
            capture_output=True,
        )
        try:
            yield path
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], capture_output=True
            )


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", metavar="REV", help="also measure the sandbox of REV, same run")
    parser.add_argument("--no-flood", action="store_true", help="skip the 1,000-tenant flood")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench/sandbox.py needs wrk (apt-get install wrk); skipped")
        return
    results: dict[str, dict[int, Result]] = {}
    floods: dict[str, Result] = {}
    with worktree(args.baseline) as base, tempfile.TemporaryDirectory() as folder:
        results["sandbox"], body = measure_sandbox(ROOT)
        if base is not None:
            results[f"sandbox@{args.baseline[:10]}"] = measure_sandbox(base)[0]
        results["raw ASGI ceiling"] = measure_ceiling(body, Path(folder))
        results["raw ASGI, our server"] = measure_ceiling(body, Path(folder), ours=True)
        prism = measure_prism()
        if prism is not None:
            results["prism (static)"] = prism
        if not args.no_flood:
            floods["sandbox"] = flood(ROOT)
            if base is not None:
                floods[f"sandbox@{args.baseline[:10]}"] = flood(base)
    report(results, floods)


def report(results: dict[str, dict[int, Result]], floods: dict[str, Result]) -> None:
    width = max(len(name) for name in results) + 2
    print(f"{'server':<{width}}{'conc':>5}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'non-2xx':>9}")
    for name, levels in results.items():
        for conc, r in levels.items():
            row = f"{r['rps']:>9.0f}{r['p50']:>8.2f}{r['p99']:>8.2f}{r['non2xx']:>9.0f}"
            print(f"{name:<{width}}{conc:>5}{row}")
    ceiling = results["raw ASGI ceiling"][16]["rps"]
    prism = results.get("prism (static)", {}).get(16, {}).get("rps")
    print()
    for name in (n for n in results if n.startswith("sandbox")):
        at16, p99 = results[name][16]["rps"], results[name][64]["p99"]
        print(f"{name}:")
        print(
            f"  req/s c16 / ceiling   {at16 / ceiling:6.2f}x  target >= {TARGETS['ceiling']}x  "
            f"{verdict(at16 / ceiling >= TARGETS['ceiling'])}"
        )
        if prism:
            print(
                f"  req/s c16 / prism     {at16 / prism:6.2f}x  target >= {TARGETS['prism']}x  "
                f"{verdict(at16 / prism >= TARGETS['prism'])}"
            )
        else:
            print("  prism not installed (npm install -g @stoplight/prism-cli to compare)")
        print(
            f"  p99 at c64         {p99:7.2f} ms  target < {TARGETS['p99_ms']} ms   "
            f"{verdict(p99 < TARGETS['p99_ms'])}"
        )
        f = floods.get(name)
        if f:
            print(
                f"  flood slowdown        {f['slowdown']:6.2f}x  target <= {TARGETS['flood']}x  "
                f"{verdict(f['slowdown'] <= TARGETS['flood'])}  (1,000 tenants; neighbour p50 "
                f"{f['alone_ms']:.2f} ms alone, {f['during_ms']:.2f} ms during; "
                f"{f['flood_429']:.0f} of {f['flood_requests']:.0f} flood requests got 429)"
            )
    print(json.dumps({"throughput": results, "flood": floods}))


if __name__ == "__main__":
    main()
