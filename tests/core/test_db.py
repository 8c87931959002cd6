"""Sessions: the statement timeout holds in every transaction, read sessions cannot write."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import pytest
from sqlalchemy import Float, Integer, String, bindparam, func, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from ftw.accounts.models import User
from ftw.config import PoolSettings, Settings
from ftw.core.db import Database, ReadOnlyError
from ftw.core.query import Query
from ftw.core.replicas import ReadKind
from ftw.territories.models import Territory


async def _terminate(url: str, pid: int) -> None:
    """End the server process of one connection, as a restart or a pooler would."""
    admin = await asyncpg.connect(url)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def test_a_read_session_refuses_to_write(database: Database) -> None:
    async with database.read_session(ReadKind.BROWSE) as session:
        session.add(Territory(fips="99999"))
        with pytest.raises(ReadOnlyError):
            await session.flush()
        session.expunge_all()
        with pytest.raises(ReadOnlyError):
            await session.execute(insert(Territory).values(fips="99999"))
        assert (await session.execute(text("SELECT 1"))).scalar_one() == 1  # reading is fine


async def test_every_session_enforces_the_configured_statement_timeout(database_url: str) -> None:
    settings = Settings(environment="test", pool=PoolSettings(statement_timeout_s=0.25))
    db = Database.connect(database_url, settings, pool_size=1)
    try:
        with pytest.raises(DBAPIError, match="statement timeout"):
            async with db.session() as session:
                await session.execute(text("SELECT pg_sleep(2)"))
        async with db.read_session(ReadKind.ANALYTICS) as session:
            assert (await session.execute(text("SHOW statement_timeout"))).scalar_one() == "250ms"
    finally:
        await db.dispose()


async def test_a_read_on_a_connection_the_server_dropped_is_answered_from_a_fresh_one(
    database_url: str,
) -> None:
    db = Database.connect(database_url, Settings(environment="test"), pool_size=1)
    users = Query(select(func.count()).select_from(User).where(User.id > bindparam("above")))
    try:
        async with db.read_session(ReadKind.BROWSE) as session:
            before = await session.scalar(text("SELECT pg_backend_pid()"))
            expected = await users.row(session, above=0)
        await _terminate(db.url, before)  # the server restarts, say: the pooled connection dies
        async with db.read_session(ReadKind.BROWSE) as session:
            await session.connection()  # the ORM's pooled connection, the dead one, holds the read
            assert await users.row(session, above=0) == expected
            assert await session.scalar(text("SELECT pg_backend_pid()")) != before
    finally:
        await db.dispose()


BACKEND = Query(select(func.pg_backend_pid(), func.current_setting(bindparam("name", type_=String))))
DOCUMENT = Query(select(func.jsonb_build_object("bids", bindparam("bids", type_=Integer))))


async def test_compiled_reads_take_the_read_pool_with_the_engines_settings(database_url: str) -> None:
    """A read session whose reads are all compiled never opens an ORM connection, and its
    connections read JSON and hold the statement timeout as the engine's do."""
    settings = Settings(environment="test", pool=PoolSettings(statement_timeout_s=0.25))
    db = Database.connect(database_url, settings, pool_size=1)
    try:
        async with db.read_session(ReadKind.OWN) as session:
            row = await BACKEND.row(session, name="statement_timeout")
            assert row is not None
            assert row[1] == "250ms"
            assert await DOCUMENT.row(session, bids=3) == ({"bids": 3},)
        orm_pool = db.engine.sync_engine.pool
        assert isinstance(orm_pool, QueuePool)
        assert orm_pool.checkedin() == 0, "SQLAlchemy's pool opened nothing"
        async with db.read_session(ReadKind.OWN) as session:
            await session.scalar(text("SELECT 1"))  # an ORM statement first: the session's connection
            own = await session.scalar(text("SELECT pg_backend_pid()"))
            row = await BACKEND.row(session, name="application_name")
            assert row is not None
            assert row[0] == own
        assert orm_pool.checkedout() == 0, "the ORM's connection is given back"
    finally:
        await db.dispose()


async def test_a_compiled_read_on_a_dropped_pool_connection_is_answered_from_a_fresh_one(
    database_url: str,
) -> None:
    db = Database.connect(database_url, Settings(environment="test"), pool_size=1)
    try:
        async with db.read_session(ReadKind.BROWSE) as session:
            before = await BACKEND.row(session, name="application_name")
        assert before is not None
        # Dropped while this process is busy: the pool hands the connection out before the
        # event loop has seen the socket close, so the read itself meets the dead connection.
        with ThreadPoolExecutor(1) as other:
            other.submit(asyncio.run, _terminate(db.url, before[0])).result()
        time.sleep(0.1)  # noqa: ASYNC251 - the loop must not run: it would notice the close
        async with db.read_session(ReadKind.BROWSE) as session:
            after = await BACKEND.row(session, name="application_name")
        assert after is not None
        assert after[0] != before[0], "answered on a fresh connection"
        assert after[1] == before[1]
    finally:
        await db.dispose()


async def test_both_pools_together_open_at_most_max_size_connections(database_url: str) -> None:
    """Reads and writes at once: the read pool opens its share of ``max_size``, SQLAlchemy's
    the rest, and everything is answered."""
    settings = Settings(environment="test", pool=PoolSettings(min_size=1, max_size=4, read_share=0.25))
    db = Database.connect(database_url, settings)
    nap = Query(select(func.pg_sleep(bindparam("seconds", type_=Float))))
    sleeping = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND state = 'active' AND query LIKE '%pg_sleep%'"
        " AND pid <> pg_backend_pid()"
    )

    async def read() -> None:
        async with db.read_session(ReadKind.BROWSE) as session:
            await nap.rows(session, seconds=0.2)

    async def write() -> None:
        async with db.session() as session:
            await session.execute(text("SELECT pg_sleep(0.2)"))

    try:
        await read()  # the read pool's connection opened before the race, not during it
        work = asyncio.gather(*(read() for _ in range(5)), *(write() for _ in range(10)))
        peak = 0
        async with db.engine.connect() as watcher:  # the watcher is one of SQLAlchemy's 3
            # Autocommit: a transaction would see pg_stat_activity as of its first sample.
            await watcher.execution_options(isolation_level="AUTOCOMMIT")
            while not work.done():
                peak = max(peak, (await watcher.execute(sleeping)).scalar_one())
                await asyncio.sleep(0.02)
        await work
        assert peak == 3, "one read and two writes at a time: 4 connections with the watcher's"
    finally:
        await db.dispose()
