"""CPU milliseconds per request of each launch-mix endpoint, in process, on a seeded database.

The bench (`ftw bench`) gives the mix's cost as a whole; this says which endpoint it comes
from. The app runs in this process with its lifespan (PostgreSQL pool, Redis cache and
limiter) on uvloop, the event loop `ftw serve` runs; each launch-mix request (loadtest/mix.py,
same builders, same sampled accounts) is sent straight to the ASGI app, no socket, and the
process's CPU time (every thread: argon2 runs in a pool) is divided by the requests. Per
endpoint it also prints the share of the mix's CPU it accounts for, weighted by its share of
the mix, and, when PostgreSQL runs on this machine, the CPU its processes spent meanwhile
(the bench gives only the mix's average).

With ``--calls N`` each endpoint then answers N more requests under cProfile, and the table
gives the Python function calls one request makes: a count of work that, unlike CPU time, a
busy or slow machine does not move, so two trees can be compared on it run by run.

    .venv/bin/python benchmarks/endpoints.py --database-url postgresql://postgres@127.0.0.1:5432/ftw_bench \\
        --redis-url redis://127.0.0.1:6379/12 --requests 300
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import gc
import pstats
import secrets
import time
from typing import Any

import uvloop
from pydantic import SecretStr
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ftw.app import create_app
from ftw.config import Settings
from ftw.core.server import rarer_full_collections
from ftw.loadtest import mix as launch_mix
from ftw.loadtest.bench import postmaster_pid, tree_cpu
from ftw.loadtest.generator import Request


def _scope(request: Request) -> tuple[dict[str, Any], bytes]:
    head, _, body = request.raw.partition(b"\r\n\r\n")
    first, *lines = head.decode().split("\r\n")
    method, target, _ = first.split(" ")
    path, _, query = target.partition("?")
    pairs = [line.split(":", 1) for line in lines]
    headers = [(name.strip().lower().encode(), value.strip().encode()) for name, value in pairs]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    return scope, body


async def _call(app: Any, request: Request) -> int:
    scope, body = _scope(request)
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)  # the client stays: only a stream would wait here
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def main(args: argparse.Namespace) -> None:
    settings = Settings(
        database_url=args.database_url,
        redis_url=args.redis_url,
        log_level="warning",
        trusted_proxies=["127.0.0.1/32"],  # sign-ins come from addresses of their own, as in the bench
    )
    settings = settings.model_copy(
        update={
            "auth": settings.auth.model_copy(update={"secret_key": SecretStr(secrets.token_urlsafe(32))}),
            "redis_prefix": f"ftw-endpoints-{secrets.token_hex(4)}",
        }
    )
    population = await launch_mix.sample(args.database_url)
    mix = launch_mix.Mix(population, settings, host="bench")
    app = create_app(settings)
    cpu: dict[str, float] = collections.defaultdict(float)
    postgres = await postmaster_pid(args.database_url)
    pg_cpu: dict[str, float] = collections.defaultdict(float)
    count: collections.Counter[str] = collections.Counter()
    errors: collections.Counter[str] = collections.Counter()
    weights: dict[str, float] = {}
    calls: dict[str, float] = {}
    rarer_full_collections()  # as `ftw serve` does (core/server.py)
    gc.freeze()
    async with app.router.lifespan_context(app):
        endpoints = [(launch_mix.bare("bench"), 0.0), *zip(mix.builders, mix.weights, strict=True)]
        for builder, weight in endpoints:
            if args.only and args.only != builder().name:
                continue
            for round_ in range(args.warmup + args.requests):
                request = builder()
                weights[request.name] = weight
                pg_started = tree_cpu(postgres) if postgres else 0.0
                started = time.process_time()
                status = await _call(app, request)
                spent = time.process_time() - started
                if round_ < args.warmup:
                    continue
                cpu[request.name] += spent
                if postgres:
                    pg_cpu[request.name] += tree_cpu(postgres) - pg_started
                count[request.name] += 1
                if status not in request.ok:
                    errors[request.name] += 1
                    if args.verbose:
                        print(status, request.raw[:200])
            if args.calls:
                calls[request.name] = await _calls_per_request(app, builder, args.calls)
    table = Table(title=f"CPU ms per request, {args.requests} requests per endpoint, in process")
    columns = ["endpoint", "share ‰", "CPU ms", "of the mix %", "PostgreSQL ms", "errors"]
    for column in columns + (["Python calls"] if calls else []):
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    mean = {name: cpu[name] / count[name] for name in count}
    mix_ms = sum(mean[name] * weights[name] for name in mean) / sum(weights.values()) or 1.0
    for name in sorted(mean, key=lambda n: -mean[n] * weights[n]):
        share = mean[name] * weights[name] / sum(weights.values()) / mix_ms * 100
        table.add_row(
            escape(name),
            f"{weights[name]:.0f}",
            f"{mean[name] * 1000:.2f}",
            f"{share:.1f}",
            f"{pg_cpu[name] / count[name] * 1000:.2f}" if postgres else "-",
            str(errors[name]),
            *([f"{calls[name]:.0f}"] if calls else []),
        )
    console = Console()
    console.print(table)
    console.print(f"launch mix, weighted: {mix_ms * 1000:.2f} CPU ms per request")
    if postgres:
        pg_ms = sum(pg_cpu[name] / count[name] * weights[name] for name in count) / sum(weights.values())
        console.print(f"PostgreSQL meanwhile, weighted: {pg_ms * 1000:.2f} CPU ms per request")
    if calls:
        mix_calls = sum(calls[name] * weights[name] for name in calls) / sum(weights[name] for name in calls)
        console.print(f"Python calls, weighted: {mix_calls:.0f} per request")


async def _calls_per_request(app: Any, builder: Any, requests: int) -> float:
    """The Python function calls (primitive ones, as cProfile counts them) per request."""
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(requests):
        await _call(app, builder())
    profile.disable()
    return float(pstats.Stats(profile).prim_calls) / requests  # type: ignore[attr-defined]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--requests", type=int, default=300, help="measured requests per endpoint")
    parser.add_argument(
        "--only", help="measure this endpoint alone (its name in the table), e.g. to profile it"
    )
    parser.add_argument("--verbose", action="store_true", help="print each request that failed")
    parser.add_argument(
        "--calls", type=int, default=0, help="then count Python calls over this many requests"
    )
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured requests per endpoint first")
    uvloop.run(main(parser.parse_args()))
