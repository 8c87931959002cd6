"""Connections for the compiled hot reads (``core.query.Query``), straight from asyncpg.

A read that runs only compiled statements needs no SQLAlchemy around its connection, and
taking one from SQLAlchemy's pool costs more than the read: the session's connection, a
greenlet hop each way, the pool's checkout and checkin events and the connection reset
come to about ten times the fetch itself (``benchmarks/reads.py``). One asyncpg pool per
database server hands out the same connections (same URL, startup parameters, statement
timeout and statement cache) for less than half the cost of that path.

Its connections only ever run single read statements in autocommit, so nothing needs
resetting when one is released (asyncpg's default reset is a round trip: unlock advisory
locks, close cursors, unlisten, reset settings). A connection the server dropped fails its
statement and the read is tried once more on a fresh one, as on the ORM's path.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from ftw.core import dbmetrics

POOLED = "ftw.pooled_reads"  # a read session's info: the PooledReads its compiled reads use
DISCONNECTED = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.AdminShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.InternalClientError,  # a connection whose loss it saw mid-operation
    OSError,
)


async def _nothing_to_reset(connection: asyncpg.Connection) -> None:
    """Release without a round trip: these connections never change their session."""


class PooledReads:
    """One server's pool for compiled reads."""

    def __init__(self, pool: asyncpg.Pool, *, acquire_timeout_s: float, slow_query_ms: int) -> None:
        self.pool = pool
        self.acquire_timeout_s = acquire_timeout_s
        self.slow_query_ms = slow_query_ms

    async def fetch(self, sql: str, arguments: list[Any], verb: str) -> list[asyncpg.Record]:
        """The statement's rows; a dead connection is replaced and the read tried once more."""
        for attempt in (1, 2):
            # A timer, not acquire(timeout=...), which wraps every acquire in a task of its own.
            async with asyncio.timeout(self.acquire_timeout_s):
                connection = await self.pool.acquire()
            try:
                started = time.perf_counter()
                found: list[asyncpg.Record] = await connection.fetch(sql, *arguments)
            except DISCONNECTED:  # closed: the pool opens a fresh one in its place
                if attempt == 2:
                    raise
                continue
            finally:
                await self.pool.release(connection)
            dbmetrics.observe(sql, time.perf_counter() - started, slow_query_ms=self.slow_query_ms, verb=verb)
            return found
        raise AssertionError("unreachable")  # pragma: no cover


class ReadPools:
    """An asyncpg pool per database server, opened on its first read and closed by ``close``.

    ``on_connect`` callbacks see each new connection (the query-budget tests log its
    statements through it).
    """

    def __init__(
        self,
        dsn: Callable[[AsyncEngine], str],
        connect_args: dict[str, Any],
        *,
        max_size: int,
        acquire_timeout_s: float,
        idle_timeout_s: float,
        slow_query_ms: int,
    ) -> None:
        self._dsn = dsn
        self._connect_args = connect_args
        self._max_size = max_size
        self._acquire_timeout_s = acquire_timeout_s
        self._idle_timeout_s = idle_timeout_s
        self._slow_query_ms = slow_query_ms
        self._pools: dict[object, asyncio.Future[PooledReads]] = {}
        self.on_connect: list[Callable[[asyncpg.Connection], None]] = []

    async def of(self, engine: AsyncEngine) -> PooledReads:
        """The pool for ``engine``'s server (engines with other options share it)."""
        key = engine.sync_engine.pool
        opening = self._pools.get(key)
        if opening is None:
            opening = self._pools[key] = asyncio.ensure_future(self._open(engine))
        try:
            return await opening
        except BaseException:
            if self._pools.get(key) is opening and opening.done():
                del self._pools[key]  # the server was down: the next read tries again
            raise

    async def _open(self, engine: AsyncEngine) -> PooledReads:
        pool = await asyncpg.create_pool(
            self._dsn(engine),
            min_size=0,
            max_size=self._max_size,
            max_inactive_connection_lifetime=self._idle_timeout_s,
            reset=_nothing_to_reset,
            init=self._connected,
            **self._connect_args,
        )
        return PooledReads(pool, acquire_timeout_s=self._acquire_timeout_s, slow_query_ms=self._slow_query_ms)

    async def _connected(self, connection: asyncpg.Connection) -> None:
        """JSON arrives decoded and addresses as text, as on SQLAlchemy's connections."""
        for name in ("json", "jsonb"):
            await connection.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
        for name in ("inet", "cidr"):
            await connection.set_type_codec(name, encoder=str, decoder=str, schema="pg_catalog")
        for callback in self.on_connect:
            callback(connection)

    async def close(self) -> None:
        opening, self._pools = list(self._pools.values()), {}
        for future in opening:
            if future.done() and not future.cancelled() and future.exception() is None:
                await future.result().pool.close()
            else:
                future.cancel()
