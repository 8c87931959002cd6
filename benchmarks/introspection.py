"""CPU per request of one GET with core/introspection's memos on and off, in one process.

On this shared machine two runs of the same tree differ by 20 %; a change of a tenth needs
both variants measured side by side. The app runs in this process with its lifespan; the memos
are swapped for FastAPI's own helpers and back between rounds (the order alternating), so the
machine's drift falls on both alike, and the ratio of each round's pair is reported.

    .venv/bin/python benchmarks/introspection.py \\
        --database-url postgresql://postgres@127.0.0.1:5432/ftw_bench \\
        --path '/api/v1/jobs?territory=06037' --rounds 30
"""

from __future__ import annotations

import argparse
import gc
import time
from typing import Any

import httpx
import uvloop
from fastapi.dependencies import utils
from pairs import order, report

from ftw.app import create_app
from ftw.config import Settings
from ftw.core import introspection

VARIANTS = ("memos", "FastAPI's")


def _use(helpers: dict[str, Any]) -> None:
    for name, helper in helpers.items():
        setattr(utils, name, helper)


async def measure(settings: Settings, path: str, rounds: int, per_round: int) -> dict[str, list[float]]:
    app = create_app(settings)  # installs the memos
    memos = {name: getattr(utils, name) for name in introspection.MEMOIZED}
    fastapis = {name: memo.__wrapped__ for name, memo in memos.items()}
    cpu: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client,
    ):
        for _ in range(300):  # warm: pools, caches, the memos' first answers
            answer = await client.get(path)
            answer.raise_for_status()
        gc.collect()
        gc.freeze()
        for round_ in range(rounds):
            for variant in order(round_, VARIANTS):
                _use(memos if variant == "memos" else fastapis)
                started = time.process_time()
                for _ in range(per_round):
                    await client.get(path)
                cpu[variant].append(1000 * (time.process_time() - started) / per_round)
        _use(memos)
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--path", default="/api/v1/jobs?territory=06037", help="an anonymous GET")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--per-round", type=int, default=400)
    args = parser.parse_args()
    settings = Settings(
        database_url=args.database_url,
        redis_url=args.redis_url,
        rate_limits_enabled=False,
        log_json=True,
        log_level="WARNING",
    )
    cpu = uvloop.run(measure(settings, args.path, args.rounds, args.per_round))
    report(cpu, VARIANTS, "request")


if __name__ == "__main__":
    main()
