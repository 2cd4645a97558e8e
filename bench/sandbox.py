"""Sandbox throughput and latency: prints numbers and ratios, asserts nothing.

- requests/s, p50 and p99 for authenticated, validated `GET /v1/contacts?limit=50` at
  concurrency 1, 16 and 64 (single uvicorn worker, loopback), against a bare Starlette app
  returning a JSON body of the same size (the ceiling), and Prism's static mock if installed;
- 1,000 tenants in one process: how much a flood from one tenant's client slows another's.
Targets (issue 5): at concurrency 16 the sandbox matches Prism's static mock and reaches at
least 50% of the bare app; a flooded neighbour is slowed by at most 2x.
Load comes from wrk (Debian package `wrk`) in a second process.
"""

from __future__ import annotations

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
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
DURATION = "4s"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(proc: subprocess.Popen[str], marker: str = "ready") -> list[str]:
    lines: list[str] = []
    while True:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            raise RuntimeError("the server did not start: " + (proc.stderr.read() if proc.stderr else ""))
        lines.append(line.strip())
        if marker in line:
            return lines


def wrk(url: str, connections: int, headers: dict[str, str]) -> dict[str, float]:
    args = ["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", DURATION, "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, timeout=120).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {
        "rps": rate,
        "p50": _ms(out, "50%"),
        "p99": _ms(out, "99%"),
        "non2xx": int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0,
    }


def _ms(out: str, label: str) -> float:
    value, unit = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)", out).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def start_sandbox(port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "sandbox",
            "serve",
            "--port",
            str(port),
            "--admin-token",
            "bench",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_ready(proc)
    return proc


def tenant(base: str, rate: float = 1e6, burst: int = 1_000_000) -> tuple[str, str]:
    admin = {"Authorization": "Bearer bench"}
    spec = httpx.post(
        f"{base}/_sandbox/tenants",
        headers=admin,
        json={"seed": 1, "sizes": {"contacts": 10_000}, "rate_limit": {"rate": rate, "burst": burst}},
    ).json()
    token = httpx.post(
        spec["token_url"],
        data={
            "grant_type": "client_credentials",
            "client_id": spec["client_id"],
            "client_secret": spec["client_secret"],
        },
    ).json()["access_token"]
    return spec["base_url"], token


def bare_app(port: int, body: bytes) -> subprocess.Popen[str]:
    folder = Path(tempfile.mkdtemp())
    (folder / "body.json").write_bytes(body)
    (folder / "bare.py").write_text(
        textwrap.dedent(f"""
        import uvicorn
        from starlette.applications import Starlette
        from starlette.responses import Response
        from starlette.routing import Route
        BODY = open({str(folder / "body.json")!r}, 'rb').read()
        async def page(request):
            return Response(BODY, media_type="application/json")
        app = Starlette(routes=[Route("/v1/contacts", page)])
        print("ready", flush=True)
        uvicorn.run(app, host="127.0.0.1", port={port}, log_level="warning", access_log=False)
    """)
    )
    proc = subprocess.Popen(
        [sys.executable, str(folder / "bare.py")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    wait_ready(proc)
    time.sleep(1.0)
    return proc


def prism(port: int) -> subprocess.Popen[str] | None:
    exe = shutil.which("prism")
    if exe is None:
        return None
    proc = subprocess.Popen(
        [exe, "mock", "-p", str(port), str(ROOT / "contracts" / "platform.openapi.yaml")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_ready(proc, "Prism is listening")
    return proc


def throughput() -> dict[str, dict[int, dict[str, float]]]:
    results: dict[str, dict[int, dict[str, float]]] = {}
    port = free_port()
    sandbox = start_sandbox(port)
    try:
        base, token = tenant(f"http://127.0.0.1:{port}")
        url = base + "/v1/contacts?limit=50"
        auth = {"Authorization": f"Bearer {token}"}
        body = httpx.get(url, headers=auth).content
        results["sandbox"] = {c: wrk(url, c, auth) for c in (1, 16, 64)}
    finally:
        sandbox.terminate()
        sandbox.wait(10)
    bare_port = free_port()
    bare = bare_app(bare_port, body)
    try:
        results["bare starlette"] = {
            c: wrk(f"http://127.0.0.1:{bare_port}/v1/contacts", c, {}) for c in (1, 16, 64)
        }
    finally:
        bare.terminate()
        bare.wait(10)
    prism_port = free_port()
    mock = prism(prism_port)
    if mock is not None:
        try:
            results["prism (static)"] = {
                c: wrk(f"http://127.0.0.1:{prism_port}/v1/contacts", c, {"Authorization": "Bearer x"})
                for c in (1, 16, 64)
            }
        finally:
            mock.terminate()
    return results


def flood() -> dict[str, float]:
    """1,000 tenants; tenant B's latency alone, then while tenant A's client floods (and gets 429s)."""
    port = free_port()
    sandbox = start_sandbox(port)
    root = f"http://127.0.0.1:{port}"
    try:
        for _ in range(998):
            httpx.post(
                f"{root}/_sandbox/tenants",
                headers={"Authorization": "Bearer bench"},
                json={"sizes": {"contacts": 100}},
            )
        flooder_base, flooder_token = tenant(root, rate=50, burst=50)
        quiet_base, quiet_token = tenant(root)
        quiet = httpx.Client(headers={"Authorization": f"Bearer {quiet_token}"})

        def quiet_latencies(n: int = 200) -> list[float]:
            out = []
            for _ in range(n):
                started = time.perf_counter()
                quiet.get(quiet_base + "/v1/contacts?limit=50")
                out.append((time.perf_counter() - started) * 1000)
            return out

        alone = statistics.median(quiet_latencies())
        flooding = subprocess.Popen(
            [
                "wrk",
                "-t",
                "1",
                "-c",
                "16",
                "-d",
                "8s",
                "-H",
                f"Authorization: Bearer {flooder_token}",
                flooder_base + "/v1/contacts?limit=50",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1)
        during = statistics.median(quiet_latencies())
        out = flooding.communicate(timeout=60)[0]
        refused = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        total = re.search(r"(\d+) requests in", out)
        return {
            "tenants": 1000,
            "alone_ms": alone,
            "during_ms": during,
            "slowdown": during / alone,
            "flood_requests": float(total.group(1)) if total else 0,
            "flood_429": float(refused.group(1)) if refused else 0,
        }
    finally:
        sandbox.terminate()
        sandbox.wait(10)


def main() -> None:
    if shutil.which("wrk") is None:
        print("bench/sandbox.py needs wrk (apt-get install wrk); skipped")
        return
    results = throughput()
    print(f"{'server':<16}{'conc':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
    for name, levels in results.items():
        for conc, r in levels.items():
            print(f"{name:<16}{conc:>6}{r['rps']:>10.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['non2xx']:>9.0f}")
    at16 = results["sandbox"][16]["rps"]
    bare16 = results["bare starlette"][16]["rps"]
    print(f"sandbox / bare at concurrency 16: {at16 / bare16:.2f}  (target >= 0.50)")
    if "prism (static)" in results:
        print(
            f"sandbox / prism at concurrency 16: {at16 / results['prism (static)'][16]['rps']:.2f}  "
            "(target >= 1.0)"
        )
    else:
        print("prism not installed (npm install -g @stoplight/prism-cli to compare)")
    f = flood()
    print(
        f"{f['tenants']} tenants; neighbour p50 alone {f['alone_ms']:.2f} ms, during a flood "
        f"{f['during_ms']:.2f} ms: slowdown {f['slowdown']:.2f}x (target <= 2x); flood got "
        f"{f['flood_429']:.0f} 429s of {f['flood_requests']:.0f}"
    )
    print(json.dumps({"throughput": results, "flood": f}))


if __name__ == "__main__":
    main()
