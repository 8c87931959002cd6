"""Hot reads: a Core statement compiled once, sent straight on the session's asyncpg connection.

On every call SQLAlchemy builds the statement, walks it for its cache key, runs the ORM's
compile step, sends it through the greenlet bridge and wraps each row; for the reads every
request makes that is most of their cost. A ``Query`` compiles its statement once, at import,
to PostgreSQL's text with ``$n`` placeholders; each call sends that text with the values in
order on the connection the session holds (its replica or the primary), and returns asyncpg's
records, which go straight into the response models. asyncpg prepares the text once per
connection.

The statement runs inside the session's transaction once one has begun, and on its own
before that: fine for a read. (Behind PgBouncer every session begins its transaction with
the statement timeout, so a prepared text never crosses server connections.) Only plain
values bind (int, str, bool, datetime): no SQLAlchemy bind or result processors run; JSON
columns still arrive decoded, as the engine's connections decode them.
"""

from __future__ import annotations

import time
from typing import Any

import asyncpg
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from ftw.core import dbmetrics
from ftw.core.db import ReadSession
from ftw.core.readpool import DISCONNECTED, POOLED, PooledReads

_DIALECT = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]


class Query:
    """One read statement, compiled once; its bind parameters are named with ``bindparam``."""

    def __init__(self, statement: ClauseElement) -> None:
        compiled = statement.compile(dialect=_DIALECT)
        assert isinstance(compiled, SQLCompiler)
        if compiled.positiontup is None:
            raise TypeError("a Query needs a statement with positional parameters")
        self.sql = str(compiled)
        self.names = tuple(compiled.positiontup)
        # Values the statement carries itself (literals, LIMIT 1); bindparam()s have none.
        self.defaults = {name: value for name, value in compiled.params.items() if value is not None}
        self.verb = dbmetrics.operation(self.sql)

    async def rows(self, session: AsyncSession, **values: Any) -> list[asyncpg.Record]:
        """The statement's rows. On a read session a connection found dead (the server
        restarted, a pooler or firewall dropped it) is thrown away and the read tried once
        more on a fresh one: no checkout pays a ping for that."""
        values = self.defaults | values
        arguments = [values[name] for name in self.names]
        pooled: PooledReads | None = session.info.get(POOLED)
        if pooled is not None and not session.in_transaction():
            return await pooled.fetch(self.sql, arguments, self.verb)
        retry = isinstance(session, ReadSession)
        while True:
            connection = await (await session.connection()).get_raw_connection()
            driver: asyncpg.Connection = connection.driver_connection
            started = time.perf_counter()
            try:
                found: list[asyncpg.Record] = await driver.fetch(self.sql, *arguments)
            except DISCONNECTED as error:
                if not retry:
                    raise
                retry = False
                connection.invalidate(error)
                await session.close()  # the next connection() checks out a fresh one
                continue
            dbmetrics.observe(
                self.sql,
                time.perf_counter() - started,
                slow_query_ms=connection.info[dbmetrics.SLOW_QUERY_MS],
                verb=self.verb,
            )
            return found

    async def row(self, session: AsyncSession, **values: Any) -> asyncpg.Record | None:
        found = await self.rows(session, **values)
        return found[0] if found else None
