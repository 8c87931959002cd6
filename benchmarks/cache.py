"""p95 of browse-by-territory through `ftw serve`, with and without the cache, same load.

Starts the API twice on the seeded database (first with the cache switched off, then with
a Redis cache under a fresh key prefix, cold at the start), drives each with the same
concurrent HTTP clients browsing counties drawn in proportion to population (a warm-up,
then the measured period), and prints latency percentiles, throughput and the cache hit
ratio scraped from /metrics.
Rate limits are switched off: every client comes from one address.

    .venv/bin/python benchmarks/cache.py --database-url postgresql://postgres@127.0.0.1:5432/ftw_bench \\
        --redis-url redis://127.0.0.1:6379/12 --clients 16 --seconds 20 --warmup 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import socket
import statistics
import subprocess
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import redis.asyncio as redis
from rich.console import Console
from rich.table import Table

FTW = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "ftw"
HIT = re.compile(r'^ftw_cache_requests_total\{kind="job_listings",result="(hit|miss)"\} ([0-9.e+]+)$', re.M)
console = Console()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _counties(database_url: str, top: int) -> tuple[list[str], list[int]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT fips, population FROM territories ORDER BY population DESC LIMIT $1", top
        )
    finally:
        await conn.close()
    return [r["fips"] for r in rows], [r["population"] for r in rows]


async def _wait_healthy(base: str, process: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError("ftw serve exited at start-up")
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.3)
    raise RuntimeError("ftw serve did not become healthy in time")


def _hits(metrics_text: str) -> tuple[float, float]:
    found = dict((kind, float(value)) for kind, value in HIT.findall(metrics_text))
    return found.get("hit", 0.0), found.get("miss", 0.0)


async def _drive(
    base: str, counties: list[str], weights: list[int], clients: int, seconds: float
) -> list[float]:
    latencies: list[float] = []
    rng = random.Random(7)  # noqa: S311 - the same sequence of counties in both runs, not secrets
    deadline = time.monotonic() + seconds
    errors = 0

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            fips = rng.choices(counties, weights)[0]
            start = time.perf_counter()
            response = await client.get("/api/v1/jobs", params={"territory": fips})
            latencies.append((time.perf_counter() - start) * 1000)
            errors += response.status_code != 200

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
    if errors:
        console.print(f"[red]{errors} responses were not 200[/]")
    return latencies


async def _run(
    label: str, env: dict[str, str], args: argparse.Namespace, counties: list[str], weights: list[int]
) -> dict[str, float | str]:
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603, ASYNC220 - our own command, started once per run
        [str(FTW), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await _wait_healthy(base, process)
        await _drive(base, counties, weights, args.clients, args.warmup)  # not measured
        async with httpx.AsyncClient(base_url=base) as client:
            before = _hits((await client.get("/metrics")).text)
            latencies = await _drive(base, counties, weights, args.clients, args.seconds)
            after = _hits((await client.get("/metrics")).text)
    finally:
        process.terminate()
        process.wait(timeout=30)
    hits, misses = after[0] - before[0], after[1] - before[1]
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "label": label,
        "requests": len(latencies),
        "rps": len(latencies) / args.seconds,
        "p50": cuts[49],
        "p95": cuts[94],
        "p99": cuts[98],
        "hit_ratio": hits / (hits + misses) if hits + misses else 0.0,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/ftw_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--counties", type=int, default=300, help="Most populous counties browsed")
    parser.add_argument("--warmup", type=float, default=10, help="Seconds of the same load before measuring")
    args = parser.parse_args()

    counties, weights = await _counties(args.database_url, args.counties)
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    base_env = {
        **os.environ,
        "FTW_DATABASE_URL": args.database_url,
        "FTW_RATE_LIMITS_ENABLED": "false",
        "FTW_SHUTDOWN_DELAY_S": "0",
        "FTW_GRACEFUL_TIMEOUT_S": "2",
    }
    base_env.pop("FTW_REDIS_URL", None)
    runs = [
        await _run("no cache", base_env | {"FTW_CACHE_ENABLED": "false"}, args, counties, weights),
        await _run(
            "Redis cache",
            base_env | {"FTW_REDIS_URL": args.redis_url, "FTW_REDIS_PREFIX": prefix},
            args,
            counties,
            weights,
        ),
    ]
    client = redis.Redis.from_url(args.redis_url)
    async for key in client.scan_iter(match=f"{prefix}*"):
        await client.delete(key)
    await client.aclose()

    table = Table(
        title=f"GET /api/v1/jobs?territory=: {args.clients} clients, {args.seconds:.0f} s, "
        f"top {args.counties} counties"
    )
    for column in ("run", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "cache hit ratio"):
        table.add_column(column, justify="right")
    for r in runs:
        table.add_row(
            str(r["label"]), f"{r['requests']:.0f}", f"{r['rps']:.0f}", f"{r['p50']:.1f}",
            f"{r['p95']:.1f}", f"{r['p99']:.1f}", f"{r['hit_ratio']:.1%}",
        )  # fmt: skip
    console.print(table)
    console.print(
        f"load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}, "
        f"{os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    asyncio.run(main())
