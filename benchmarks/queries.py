"""Latency of job browse and full-text search against a seeded database.

Calls the real service functions (``ftw.jobs.service.browse`` and ``search``) on the app's
own engine, so the SQL measured is the SQL the API runs. Counties are drawn with probability
proportional to population, as users would hit them. Each figure is one service call:
pool checkout, query and row mapping.

    .venv/bin/python benchmarks/queries.py --database-url URL --runs 200 [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import re
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.config import Settings
from ftw.core.db import Database
from ftw.core.pagination import PageParams
from ftw.jobs import service
from ftw.jobs.schemas import JobFilters, JobSummary

# Websearch syntax: plain words, a quoted phrase, an exclusion, an alternative.
QUERIES = (
    "water heater",
    '"leaking faucet"',
    "roof -shingle",
    "deck OR fence",
    "ceiling fan",
    "clogged drain",
    "mice attic",
    '"kitchen cabinets" paint',
)
_INDEX = re.compile(r"(?:Index Only Scan|Index Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\w+)")

Page = tuple[list[JobSummary], str | None]


@dataclass
class Series:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        data = sorted(self.latencies_ms)
        if not data:
            return {"runs": 0}
        cuts = statistics.quantiles(data, n=100, method="inclusive") if len(data) > 1 else data * 99
        return {
            "runs": len(data),
            "p50_ms": round(cuts[49], 2),
            "p95_ms": round(cuts[94], 2),
            "p99_ms": round(cuts[98], 2),
            "max_ms": round(data[-1], 2),
            "mean_rows": round(statistics.fmean(self.rows), 1),
        }


class Statements:
    """The last query on jobs the engine sent, with its parameters, for EXPLAIN."""

    def __init__(self, db: Database) -> None:
        self.last: tuple[str, Any] | None = None
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM jobs" in statement:
            self.last = (statement, parameters)


async def timed(db: Database, call: Callable[[AsyncSession], Awaitable[Page]]) -> tuple[float, Page]:
    async with db.sessions() as session:
        started = time.perf_counter()
        page = await call(session)
        return (time.perf_counter() - started) * 1000, page


def browse(fips: str, cursor: str | None, limit: int) -> Callable[[AsyncSession], Awaitable[Page]]:
    return lambda session: service.browse(
        session=session, filters=JobFilters(territory=fips), page=PageParams(cursor, limit)
    )


def search(query: str, fips: str | None, limit: int) -> Callable[[AsyncSession], Awaitable[Page]]:
    return lambda session: service.search(
        session=session, text_query=query, filters=JobFilters(territory=fips), page=PageParams(None, limit)
    )


async def explain(
    db: Database, statements: Statements, call: Callable[[AsyncSession], Awaitable[Page]]
) -> dict[str, Any]:
    """Run ``call`` once, then EXPLAIN (ANALYZE, BUFFERS) the very statement it sent."""
    await timed(db, call)
    assert statements.last is not None
    statement, parameters = statements.last
    async with db.sessions() as session:
        conn = await session.connection()
        result = await conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
        plan = "\n".join(row[0] for row in result)
    return {"sql": statement, "plan": plan, "indexes": sorted(set(_INDEX.findall(plan)))}


async def run(url: str, runs: int, limit: int, seed: int) -> dict[str, Any]:
    db = Database.connect(url, Settings(database_url=url), pool_size=2)
    statements = Statements(db)
    rng = random.Random(seed)  # noqa: S311 - picks counties and queries, reproducibly
    try:
        async with db.sessions() as session:
            counties = (await session.execute(text("SELECT fips, population FROM territories"))).all()
            counts = (
                await session.execute(
                    text(
                        "SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM jobs) AS jobs,"
                        " (SELECT count(*) FROM jobs WHERE status = 'open') AS open_jobs"
                    )
                )
            ).one()
        fips = [c.fips for c in counties]
        weights = list(itertools.accumulate(c.population for c in counties))

        def county() -> str:
            return str(rng.choices(fips, cum_weights=weights)[0])

        first, later = Series("browse, first page"), Series("browse, next page (cursor)")
        in_county, everywhere = Series("search, one county"), Series("search, all counties")
        for run_number in range(-min(20, runs), runs):  # negative: warm-up, not recorded
            measured = run_number >= 0
            where = county()
            elapsed, (items, cursor) = await timed(db, browse(where, None, limit))
            if measured:
                first.latencies_ms.append(elapsed)
                first.rows.append(len(items))
            if cursor:
                elapsed, (items, _) = await timed(db, browse(where, cursor, limit))
                if measured:
                    later.latencies_ms.append(elapsed)
                    later.rows.append(len(items))
            for series, scope in ((in_county, county()), (everywhere, None)):
                elapsed, (items, _) = await timed(db, search(rng.choice(QUERIES), scope, limit))
                if measured:
                    series.latencies_ms.append(elapsed)
                    series.rows.append(len(items))

        # Plans in the most populous county (the most open jobs) for a common query.
        busiest = max(counties, key=lambda c: c.population).fips
        _, (items, cursor) = await timed(db, browse(busiest, None, limit))
        plans = {
            f"browse {busiest}, first page": await explain(db, statements, browse(busiest, None, limit)),
            f"browse {busiest}, next page": await explain(db, statements, browse(busiest, cursor, limit)),
            f"search 'water heater' in {busiest}": await explain(
                db, statements, search("water heater", busiest, limit)
            ),
            "search 'water heater' everywhere": await explain(
                db, statements, search("water heater", None, limit)
            ),
        }
    finally:
        await db.dispose()
    return {
        "database": dict(counts._mapping),
        "page_size": limit,
        "latency": {s.name: s.summary() for s in (first, later, in_county, everywhere)},
        "explain": plans,
    }


def report(result: dict[str, Any], console: Console) -> None:
    db = result["database"]
    console.print(f"{db['users']:,} users, {db['jobs']:,} jobs ({db['open_jobs']:,} open)")
    table = Table(title=f"Service-call latency (ms), pages of {result['page_size']}")
    for column in ("query", "runs", "p50", "p95", "p99", "max", "rows/page"):
        table.add_column(column, justify="left" if column == "query" else "right")
    for name, s in result["latency"].items():
        if s["runs"]:
            table.add_row(
                name,
                str(s["runs"]),
                f"{s['p50_ms']:.1f}",
                f"{s['p95_ms']:.1f}",
                f"{s['p99_ms']:.1f}",
                f"{s['max_ms']:.1f}",
                f"{s['mean_rows']:.1f}",
            )
    console.print(table)
    for name, plan in result["explain"].items():
        console.rule(f"EXPLAIN (ANALYZE, BUFFERS): {name}")
        console.print(plan["plan"], highlight=False, markup=False)
        console.print(f"indexes used: {', '.join(plan['indexes']) or 'none (sequential scan)'}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--runs", type=int, default=200, help="measured calls of each kind")
    parser.add_argument("--limit", type=int, default=Settings().jobs.page_size_default, help="page size")
    parser.add_argument("--seed", type=int, default=1, help="random seed for counties and queries")
    parser.add_argument("--json", action="store_true", help="print a JSON summary instead of tables")
    args = parser.parse_args()
    result = asyncio.run(run(args.database_url, args.runs, args.limit, args.seed))
    if args.json:
        for plan in result["explain"].values():
            del plan["sql"]
        print(json.dumps(result, indent=2))
    else:
        report(result, Console())


if __name__ == "__main__":
    main()
