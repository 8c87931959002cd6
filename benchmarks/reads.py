"""CPU microseconds per compiled read (``core.query.Query``), by the way it reaches PostgreSQL.

- the read pool: a read session whose reads are all compiled (core/readpool.py), opened and
  closed around each read, as a hot GET does;
- SQLAlchemy's pool: the same read on a read session that holds one of SQLAlchemy's
  connections (what every compiled read cost before the read pools);
- the fetch alone, on one asyncpg connection held throughout: the floor.

    .venv/bin/python benchmarks/reads.py --database-url postgresql://postgres@127.0.0.1:5432/ftw_bench
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Awaitable, Callable

import asyncpg
import uvloop
from sqlalchemy import Integer, bindparam, select

from ftw.config import Settings
from ftw.core.db import Database
from ftw.core.query import Query
from ftw.core.replicas import ReadKind

ONE = Query(select(bindparam("value", type_=Integer)))


async def _cpu_us(read: Callable[[], Awaitable[object]], times: int) -> float:
    for _ in range(times // 10):  # warm: connections opened, statements prepared
        await read()
    started = time.process_time()
    for _ in range(times):
        await read()
    return (time.process_time() - started) / times * 1e6


async def main(args: argparse.Namespace) -> None:
    db = Database.connect(args.database_url, Settings(database_url=args.database_url))
    held = await asyncpg.connect(db.url)

    async def read_pool() -> object:
        async with db.read_session(ReadKind.OWN) as session:
            return await ONE.rows(session, value=1)

    async def orm_pool() -> object:
        async with db.read_session(ReadKind.OWN) as session:
            await session.connection()
            return await ONE.rows(session, value=1)

    async def fetch_alone() -> object:
        return await held.fetch(ONE.sql, 1)

    ways = (("read pool", read_pool), ("SQLAlchemy's pool", orm_pool), ("fetch alone", fetch_alone))
    try:
        for _ in range(args.rounds):
            for name, read in ways:
                print(f"{name:>18}: {await _cpu_us(read, args.reads):6.1f} µs of CPU per read")
    finally:
        await held.close()
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--reads", type=int, default=5000, help="timed reads per way and round")
    parser.add_argument("--rounds", type=int, default=2, help="each way measured this many times, alternated")
    uvloop.run(main(parser.parse_args()))
