"""CPU per request of the launch mix's reads with core/routing's planned handlers and with
FastAPI's own, in one process, side by side.

On this shared machine two runs of one tree differ by a fifth or more; a change of that size
needs both variants measured in the same minutes. The app runs in this process with its
lifespan (PostgreSQL, Redis cache and limiter) on uvloop. Each round draws requests from the
launch mix's reads (loadtest/mix.py, by their shares, as 200 sampled accounts of each kind)
and sends the same list through each variant, the order alternating; the planned routes are
switched to FastAPI's handler and back between them. Printed: each read's CPU per request under
each variant (all rounds together), the median CPU per request of each variant's rounds and the
median of the rounds' ratios.

    .venv/bin/python benchmarks/routing.py --database-url postgresql://postgres@127.0.0.1:5432/ftw_bench \\
        --redis-url redis://127.0.0.1:6379/12 --rounds 20
"""

from __future__ import annotations

import argparse
import collections
import gc
import random
import secrets
import time

import uvloop
from endpoints import _call
from pairs import order, report
from pydantic import SecretStr
from starlette.types import ASGIApp

from ftw.app import create_app, route_table
from ftw.config import Settings
from ftw.core.routing import LeanRoute
from ftw.core.server import rarer_full_collections
from ftw.loadtest import mix as launch_mix
from ftw.loadtest.generator import Request


def _use(planned: list[LeanRoute], handlers: list[ASGIApp]) -> None:
    for route, handler in zip(planned, handlers, strict=True):
        route.app = handler


VARIANTS = ("planned", "FastAPI's")
Rounds = dict[str, list[float]]  # variant: CPU ms per read of each round
PerRead = dict[tuple[str, str], list[float]]  # (variant, read): [CPU seconds, requests]


async def measure(args: argparse.Namespace) -> tuple[Rounds, PerRead]:
    settings = Settings(
        database_url=args.database_url,
        redis_url=args.redis_url,
        log_level="warning",
        log_json=True,
    )
    settings = settings.model_copy(
        update={
            "auth": settings.auth.model_copy(update={"secret_key": SecretStr(secrets.token_urlsafe(32))}),
            "redis_prefix": f"ftw-routing-{secrets.token_hex(4)}",
        }
    )
    population = await launch_mix.sample(args.database_url, args.accounts)
    mix = launch_mix.Mix(population, settings, host="bench")
    reads = [(b, w) for b, w in zip(mix.builders, mix.weights, strict=True) if b().raw.startswith(b"GET")]
    app = create_app(settings)
    planned = [r for r in route_table() if isinstance(r, LeanRoute) and r.lean]
    lean = [r.app for r in planned]
    fastapis = [r.fastapi_app for r in planned]
    draw = random.Random(7)  # noqa: S311 - the same draw for both variants, not a secret
    cpu: Rounds = {variant: [] for variant in VARIANTS}
    per_read: PerRead = collections.defaultdict(lambda: [0.0, 0.0])
    rarer_full_collections()
    gc.freeze()
    async with app.router.lifespan_context(app):
        for _ in range(3):  # warm: every account's token verified, pools open, caches filled
            for builder, _weight in reads:
                for _ in range(args.accounts):
                    await _call(app, builder())
        for round_ in range(args.rounds):
            chosen = draw.choices([b for b, _ in reads], [w for _, w in reads], k=args.per_round)
            requests: list[Request] = [builder() for builder in chosen]
            for variant in order(round_, VARIANTS):
                _use(planned, lean if variant == "planned" else fastapis)
                spent = 0.0
                for request in requests:
                    started = time.process_time()
                    await _call(app, request)
                    one = time.process_time() - started
                    spent += one
                    tally = per_read[variant, request.name]
                    tally[0] += one
                    tally[1] += 1
                cpu[variant].append(1000 * spent / len(requests))
        _use(planned, lean)
    return cpu, per_read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--per-round", type=int, default=400)
    parser.add_argument("--accounts", type=int, default=200, help="sampled accounts of each kind")
    args = parser.parse_args()
    cpu, per_read = uvloop.run(measure(args))
    for name in sorted({read for _, read in per_read}):
        by_variant = {
            variant: 1000 * per_read[variant, name][0] / per_read[variant, name][1] for variant in cpu
        }
        print(f"{name:>22}: " + ", ".join(f"{v} {ms:.3f}" for v, ms in by_variant.items()) + " CPU ms")
    report(cpu, VARIANTS, "read")


if __name__ == "__main__":
    main()
