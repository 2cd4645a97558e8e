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
Needs wrk and redis-server (Debian packages `wrk`, `redis-server`). SCALE_TENANTS=N to change 10,000.
"""

from __future__ import annotations

import os
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


def wrk_script(pairs: list[tuple[str, str]], folder: str) -> str:
    rows = ",\n".join(f'{{"{t}","{v}"}}' for t, v in pairs)
    path = os.path.join(folder, "tenants.lua")
    Path(path).write_text(
        f"local tenants = {{\n{rows}\n}}\n"
        "math.randomseed(7)\n"
        "request = function()\n"
        "  local t = tenants[math.random(#tenants)]\n"
        '  return wrk.format("GET", "/t/" .. t[1] .. "/v1/contacts?limit=50", '
        '{["Authorization"] = "Bearer " .. t[2]})\n'
        "end\n"
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


def _ms(out: str, label: str) -> float:
    value, unit = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def serve(store_url: str, workers: int) -> tuple[subprocess.Popen[str], str]:
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
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "ready":
            return proc, f"http://127.0.0.1:{port}"
    raise RuntimeError("the sandbox did not start")


def main() -> None:
    for tool in ("wrk", "redis-server"):
        if shutil.which(tool) is None:
            print(f"scale: {tool} is not installed (apt-get install {tool}); nothing measured")
            return
    with tempfile.TemporaryDirectory() as folder:
        proc, port = start_redis(folder)
        url = f"redis://127.0.0.1:{port}/0"
        try:
            started = time.perf_counter()
            pairs, idle = make_tenants(url)
            made_in = time.perf_counter() - started
            script = wrk_script(pairs, folder)
            results = {}
            for replicas in (1, 2, 3):
                server, base = serve(url, replicas)
                try:
                    wrk(base, script, "3s")  # warm-up: each process builds the tenants it meets
                    results[replicas] = wrk(base, script)
                finally:
                    server.terminate()
                    server.wait(timeout=30)
            client = redis.Redis(port=port)
            active = client.info("memory")["used_memory"] / TENANTS
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(
        f"scale: {TENANTS} tenants in one Redis (made in {made_in:.1f} s), wrk {CONNECTIONS} connections, "
        f"{DURATION}, GET /v1/contacts?limit=50 on a random tenant; {os.cpu_count()} cores"
    )
    print(f"{'replicas':>8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'x one':>6}")
    for replicas, r in results.items():
        ratio = r["rps"] / results[1]["rps"]
        print(
            f"{replicas:>8} {r['rps']:>9.0f} {r['p50']:>8.1f} {r['p99']:>8.1f} {r['errors']:>7} {ratio:>6.2f}"
        )
    worst = max(r["p99"] for r in results.values())
    two = results[2]["rps"] / results[1]["rps"]
    print(f"target p99 < 50 ms at {TENANTS} tenants: worst {worst:.1f} ms ({worst / 50:.2f}x the target)")
    print(f"target 2 replicas >= 1.6x one: {two:.2f}x ({two / 1.6:.2f} of the target)")
    print(
        f"target Redis per idle tenant < 2048 B: {idle:.0f} B ({idle / 2048:.2f}x the target); "
        f"after the load, with tokens and request logs: {active:.0f} B per tenant"
    )


if __name__ == "__main__":
    main()
