"""Scale out: 10,000 tenants in one Redis, served by 1, 2 and 3 sandbox processes; prints
numbers, targets and ratios, asserts nothing.

- a redis-server (Debian's) on a free port in a temporary folder;
- 10,000 tenants made straight in the Redis store (one client and one token each);
- for 1, 2, 3 replicas: `harness sandbox serve --workers N --store redis://...` (N processes on
  one port; the kernel spreads connections as a load balancer would), a warm-up, then wrk at 16
  connections on authenticated, validated `GET /v1/contacts?limit=50`, each request for a
  random tenant of the 10,000: requests/s, p50, p99, errors;
- Redis memory per idle tenant, and per tenant after the load (tokens, request logs).
Targets (issue 18): p99 under 50 ms at 10,000 tenants; 2 replicas at least 1.6x one replica's
throughput on this 2-core machine; Redis memory per idle tenant under 2 KiB.

Before and after, side by side: SCALE_BASELINE=<git ref> also serves that commit's code (from
`git archive`) on the same Redis and tenants, alternating with this tree's, and prints the ratios.
Needs redis-server (Debian's `redis-server`); wrk (Debian's `wrk`) drives the load if installed,
else a small asyncio client in this process does (it spends some of the same cores: compare
ratios, not absolute figures). SCALE_TENANTS=N to change 10,000; SCALE_REPLICAS=1,2 to choose.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.contract import default_contract_path, load  # noqa: E402
from harness.sandbox.store.redis import RedisStore  # noqa: E402
from harness.sandbox.tenants import Tenants  # noqa: E402

TENANTS = int(os.environ.get("SCALE_TENANTS", "10000"))
REPLICAS = [int(n) for n in os.environ.get("SCALE_REPLICAS", "1,2,3").split(",")]
BASELINE = os.environ.get("SCALE_BASELINE")
ROUNDS = int(os.environ.get("SCALE_ROUNDS", "1"))  # best of N alternated runs: a busy machine's noise
ADMIN = "scale-bench-admin"
DURATION = "6s"
CONNECTIONS = 16


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(folder: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            folder,
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            return proc, port
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def make_tenants(url: str) -> tuple[list[tuple[str, str]], float]:
    """TENANTS tenants with a token each, made in the store directly; and Redis bytes per idle tenant."""
    store = RedisStore(redis.Redis.from_url(url), delivery_workers=0)
    with ThreadPoolExecutor(1) as executor:
        tenants = Tenants(load(default_contract_path()), executor, store)
        before = store.r.info("memory")["used_memory"]

        def one(seed: int) -> tuple[str, str]:
            tenant, client = tenants.create(seed=seed, rate_limit=(1e6, 1_000_000))
            return tenant.id, client.client_id

        with ThreadPoolExecutor(8) as pool:
            made = list(pool.map(one, range(TENANTS)))
        idle = (store.r.info("memory")["used_memory"] - before) / TENANTS

        def token(pair: tuple[str, str]) -> tuple[str, str]:
            tenant = tenants.get(pair[0])
            assert tenant is not None
            client = tenant.clients[pair[1]]
            return pair[0], tenant.issue_token(client, client.scopes).value

        with ThreadPoolExecutor(8) as pool:
            pairs = list(pool.map(token, made))
    store.close()
    return pairs, idle


def wrk_script(pairs: list[tuple[str, str]], folder: str, pause_ms: float = 0.0) -> str:
    """wrk's request script: a random tenant per request; with `pause_ms`, each connection waits
    that long after an answer before it asks again (a paced load, below saturation)."""
    rows = ",\n".join(f'{{"{t}","{v}"}}' for t, v in pairs)
    path = os.path.join(folder, f"tenants-{pause_ms:.0f}.lua")
    Path(path).write_text(
        f"local tenants = {{\n{rows}\n}}\n"
        # each wrk thread its own sequence: seeded alike, the threads would ask for the same
        # tenants and every second page would be warm
        "local threads = 0\n"
        "function setup(thread)\n"
        "  threads = threads + 1\n"
        "  thread:set('number', threads)\n"
        "end\n"
        "function init(args)\n"
        "  math.randomseed(7 + 7919 * number)\n"
        "end\n"
        "request = function()\n"
        "  local t = tenants[math.random(#tenants)]\n"
        '  return wrk.format("GET", "/t/" .. t[1] .. "/v1/contacts?limit=50", '
        '{["Authorization"] = "Bearer " .. t[2]})\n'
        "end\n" + (f"delay = function()\n  return {pause_ms:.1f}\nend\n" if pause_ms else "")
    )
    return path


def wrk(url: str, script: str, duration: str = DURATION) -> dict[str, float]:
    args = ["wrk", "-t", "2", "-c", str(CONNECTIONS), "-d", duration, "--latency", "-s", script, url]
    out = subprocess.run(args, capture_output=True, text=True, timeout=300).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": _ms(out, "50%"),
        "p99": _ms(out, "99%"),
        "errors": int(errors.group(1)) if errors else 0,
    }


def drive(url: str, pairs: list[tuple[str, str]], duration: float, pause_ms: float = 0.0) -> dict[str, float]:
    """wrk's measurement without wrk: CONNECTIONS keep-alive connections, each sending the next
    request when the last answer is in, on a random tenant; latency per request."""
    host, _, port = url.removeprefix("http://").partition(":")
    rng = random.Random(7)
    latencies: list[float] = []
    errors = 0

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        end = time.perf_counter() + duration
        while time.perf_counter() < end:
            tenant, token = pairs[rng.randrange(len(pairs))]
            writer.write(
                f"GET /t/{tenant}/v1/contacts?limit=50 HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: Bearer {token}\r\n\r\n".encode()
            )
            started = time.perf_counter()
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length: *(\d+)", head)
            if length is None:
                raise RuntimeError(f"an answer without Content-Length: {head[:300]!r}")
            await reader.readexactly(int(length.group(1)))
            latencies.append(time.perf_counter() - started)
            if not head.startswith((b"HTTP/1.1 2", b"HTTP/1.1 3")):
                errors += 1
            if pause_ms:
                await asyncio.sleep(pause_ms / 1000)
        writer.close()

    async def run() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
        return time.perf_counter() - started

    took = asyncio.run(run())
    latencies.sort()
    return {
        "rps": len(latencies) / took,
        "p50": latencies[len(latencies) // 2] * 1000,
        "p99": latencies[int(len(latencies) * 0.99)] * 1000,
        "errors": errors,
    }


def measure(
    url: str, script: str, pairs: list[tuple[str, str]], duration: str, pause_ms: float = 0.0
) -> dict[str, float]:
    if shutil.which("wrk"):
        return wrk(url, script, duration)
    return drive(url, pairs, float(duration.rstrip("s")), pause_ms)


def pause_for(rps: float) -> float:
    """The pause after each answer that makes CONNECTIONS connections offer about half of `rps`
    (the latency a tenant sees while the service carries half of what it can, not its queue at
    saturation, where p99 is only Little's law: connections / throughput)."""
    return CONNECTIONS / (rps / 2) * 1000


def baseline_tree(ref: str, folder: str) -> Path:
    """The code of `ref`, unpacked from git: served beside this tree's for a before/after."""
    tree = Path(folder) / "baseline"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def cold_pages(tree: Path) -> float:
    """ms to make one cold page (50 contacts of a new tenant) with the code in `tree`."""
    code = (
        "import time\n"
        "from harness.contract import default_contract_path, load\n"
        "from harness.synth import Dataset\n"
        "c = load(default_contract_path()); sizes = {'contacts': 100, 'companies': 100, 'deals': 100}\n"
        "for s in range(20): Dataset(c, seed=s, sizes=sizes).make('contacts', 0)\n"
        "t = time.perf_counter()\n"
        "for s in range(100, 160):\n"
        "    d = Dataset(c, seed=s, sizes=sizes)\n"
        "    [d.make('contacts', i) for i in range(50)]\n"
        "print((time.perf_counter() - t) / 60 * 1000)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, capture_output=True, text=True)
    return float(out.stdout.strip())


def _ms(out: str, label: str) -> float:
    value, unit = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def serve(store_url: str, workers: int, tree: Path = ROOT) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "harness.cli",
        "sandbox",
        "serve",
        "--port",
        str(port),
        "--store",
        store_url,
    ]
    args += ["--workers", str(workers), "--admin-token", ADMIN]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.Popen(args, cwd=tree, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "ready":
            return proc, f"http://127.0.0.1:{port}"
    raise RuntimeError("the sandbox did not start")


def main() -> None:
    if shutil.which("redis-server") is None:
        print("scale: redis-server is not installed (apt-get install redis-server); nothing measured")
        return
    driver = "wrk" if shutil.which("wrk") else "an asyncio client (no wrk installed)"
    with tempfile.TemporaryDirectory() as folder:
        trees = {"now": ROOT}
        if BASELINE:
            trees = {"before": baseline_tree(BASELINE, folder), "now": ROOT}
        cold: dict[str, float] = {}
        for _ in range(3):  # alternated, best of 3
            for name, tree in trees.items():
                cold[name] = min(cold.get(name, float("inf")), cold_pages(tree))
        proc, port = start_redis(folder)
        url = f"redis://127.0.0.1:{port}/0"
        try:
            started = time.perf_counter()
            pairs, idle = make_tenants(url)
            made_in = time.perf_counter() - started
            script = wrk_script(pairs, folder)
            results: dict[tuple[str, int], dict[str, float]] = {}
            for replicas in REPLICAS:
                for _ in range(ROUNDS):
                    for name, tree in trees.items():  # alternating: the same machine load for both
                        server, base = serve(url, replicas, tree)
                        try:
                            # warm-up: each process builds the tenants it meets
                            measure(base, script, pairs, "3s")
                            got = measure(base, script, pairs, DURATION)
                            pause = pause_for(got["rps"])
                            paced = measure(base, wrk_script(pairs, folder, pause), pairs, DURATION, pause)
                            got |= {f"half_{k}": v for k, v in paced.items()}
                        finally:
                            server.terminate()
                            server.wait(timeout=30)
                        best = results.get((name, replicas))
                        if best is None or got["rps"] > best["rps"]:
                            results[(name, replicas)] = got
            client = redis.Redis(port=port)
            active = client.info("memory")["used_memory"] / TENANTS
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(
        f"scale: {TENANTS} tenants in one Redis (made in {made_in:.1f} s), {driver}, {CONNECTIONS} "
        f"connections, {DURATION}, best of {ROUNDS}, GET /v1/contacts?limit=50 on a random tenant; "
        f"{os.cpu_count()} cores; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for name, ms in cold.items():
        print(f"cold page of 50 records ({name}): {ms:.2f} ms")
    if "before" in cold:
        print(f"cold page, before / now: {cold['before'] / cold['now']:.2f}x faster")
    one = {name: results[(name, REPLICAS[0])]["rps"] for name in trees}
    print("saturated: 16 connections in a closed loop; half load: each connection pauses after an answer")
    heads = ("code", "replicas", "req/s", "p50 ms", "p99 ms", "errors", "x first")
    heads += ("half req/s", "p50 ms", "p99 ms")
    widths = (7, 8, 9, 8, 8, 7, 7, 10, 8, 8)
    print(" ".join(f"{h:>{w}}" for h, w in zip(heads, widths, strict=True)))
    for (name, replicas), r in results.items():
        print(
            f"{name:>7} {replicas:>8} {r['rps']:>9.0f} {r['p50']:>8.1f} {r['p99']:>8.1f} "
            f"{r['errors'] + r['half_errors']:>7} {r['rps'] / one[name]:>7.2f} "
            f"{r['half_rps']:>10.0f} {r['half_p50']:>8.1f} {r['half_p99']:>8.1f}"
        )
    if "before" in trees:
        for replicas in REPLICAS:
            b, n = results[("before", replicas)], results[("now", replicas)]
            print(
                f"{replicas} replica(s), now vs before: req/s {n['rps'] / b['rps']:.2f}x, "
                f"p99 {b['p99'] / n['p99']:.2f}x lower"
            )
    now = [r for (name, _), r in results.items() if name == "now"]
    worst = max(r["p99"] for r in now)
    half = max(r["half_p99"] for r in now)
    print(
        f"target p99 < 50 ms at {TENANTS} tenants: worst {half:.1f} ms at half load ({half / 50:.2f}x the "
        f"target), {worst:.1f} ms saturated ({worst / 50:.2f}x)"
    )
    if 1 in REPLICAS and 2 in REPLICAS:
        two = results[("now", 2)]["rps"] / results[("now", 1)]["rps"]
        print(f"target 2 replicas >= 1.6x one: {two:.2f}x ({two / 1.6:.2f} of the target)")
    print(
        f"target Redis per idle tenant < 2048 B: {idle:.0f} B ({idle / 2048:.2f}x the target); "
        f"after the load, with tokens and request logs: {active:.0f} B per tenant"
    )


if __name__ == "__main__":
    main()
