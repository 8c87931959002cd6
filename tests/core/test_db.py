"""Sessions: the statement timeout holds in every transaction, read sessions cannot write."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.exc import DBAPIError

from ftw.accounts.models import User
from ftw.config import PoolSettings, Settings
from ftw.core.db import Database, ReadOnlyError
from ftw.core.query import Query
from ftw.core.replicas import ReadKind
from ftw.territories.models import Territory


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
        admin = await asyncpg.connect(db.url)  # the server restarts, say: the pooled connection dies
        await admin.execute("SELECT pg_terminate_backend($1)", before)
        await admin.close()
        async with db.read_session(ReadKind.BROWSE) as session:
            assert await users.row(session, above=0) == expected
            assert await session.scalar(text("SELECT pg_backend_pid()")) != before
    finally:
        await db.dispose()
