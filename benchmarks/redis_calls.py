"""Client CPU per Redis round trip, the way requests make them: many at once on one event loop.

The rate limiter's script through redis-py's client (``Redis`` and a registered ``Script``),
as the app sent it before: with redis-py 8's default socket timeout (5 s: each send in a task
of its own, a timer per read) and without; then through ``core.redispool.RedisPool`` without
it, as the app sends it now; and a bare PING through each. The process's CPU time is divided
by the calls (Redis's own CPU is not in it).

    .venv/bin/python benchmarks/redis_calls.py --redis-url redis://127.0.0.1:6379/12
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import redis.asyncio as redis
import uvloop

from ftw.core.ratelimit import MOVING_WINDOWS, MOVING_WINDOWS_SHA
from ftw.core.redispool import RedisPool


async def _cpu_us(call: Callable[[int], Awaitable[object]], *, tasks: int, calls: int) -> float:
    async def worker(offset: int, count: int) -> None:
        for i in range(count):
            await call(offset + i)

    await asyncio.gather(*(worker(k * calls, 20) for k in range(tasks)))  # connect and warm up
    started = time.process_time()
    await asyncio.gather(*(worker(k * calls, calls) for k in range(tasks)))
    return (time.process_time() - started) / (tasks * calls) * 1e6


async def main(args: argparse.Namespace) -> None:
    client = redis.Redis.from_url(args.redis_url)
    script = client.register_script(MOVING_WINDOWS)
    untimed = redis.Redis.from_url(args.redis_url, socket_timeout=None)
    untimed_script = untimed.register_script(MOVING_WINDOWS)
    pool = RedisPool.from_url(args.redis_url, socket_timeout=None)
    prefix = f"bench-redis-{uuid.uuid4().hex}:"

    def keys(i: int) -> list[str]:
        return [f"{prefix}{i % 3000}"]

    async def client_script(i: int) -> object:
        return await script(keys=keys(i), args=[200, 60])

    async def untimed_script_call(i: int) -> object:
        return await untimed_script(keys=keys(i), args=[200, 60])

    async def pool_script(i: int) -> object:
        return await pool.call("EVALSHA", MOVING_WINDOWS_SHA, 1, *keys(i), 200, 60)

    async def client_ping(i: int) -> object:
        return await client.ping()

    async def pool_ping(i: int) -> object:
        return await pool.call("PING")

    await pool.call("SCRIPT", "LOAD", MOVING_WINDOWS)
    runs = (
        ("limiter script, redis-py client", client_script),
        ("  the same, no socket timeout", untimed_script_call),
        ("limiter script, RedisPool", pool_script),
        ("PING, redis-py client", client_ping),
        ("PING, RedisPool", pool_ping),
    )
    try:
        for name, call in runs:
            spent = await _cpu_us(call, tasks=args.tasks, calls=args.calls)
            print(f"{name:34} {spent:6.1f} CPU µs per call ({args.tasks} at once)")
    finally:
        async for key in client.scan_iter(match=f"{prefix}*"):
            await client.delete(key)
        await client.aclose()
        await untimed.aclose()
        await pool.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--tasks", type=int, default=32, help="calls in flight at once")
    parser.add_argument("--calls", type=int, default=300, help="calls per task")
    uvloop.run(main(parser.parse_args()))
