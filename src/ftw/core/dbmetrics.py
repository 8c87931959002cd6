"""Database instrumentation: pool usage, wait for a connection, statement time, slow queries.

Attached to every engine ``core.db.create_engine`` builds, through SQLAlchemy's pool and
cursor events; the numbers land in ``core.metrics``.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from sqlalchemy import event
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry, PoolProxiedConnection

from ftw.core import metrics

log = structlog.get_logger("ftw.db")

_STARTED = "ftw.query_started"


class TimedPool(AsyncAdaptedQueuePool):
    """The asyncio queue pool, timing how long each checkout waits for a connection."""

    def _do_get(self) -> ConnectionPoolEntry:
        started = time.perf_counter()
        try:
            return super()._do_get()
        finally:
            metrics.DB_POOL_WAIT.observe(time.perf_counter() - started)


SLOW_QUERY_MS = "ftw.slow_query_ms"  # pool record info: this engine's slow_query_ms


def operation(statement: str) -> str:
    """The SQL verb, as a label with a handful of values."""
    verb = statement.lstrip().split(None, 1)[0].lower() if statement.strip() else "other"
    return verb if verb in metrics.SQL_OPERATIONS else "other"


def observe(statement: str, seconds: float, *, slow_query_ms: int, verb: str | None = None) -> None:
    """Time one statement; log it when slow."""
    verb = verb or operation(statement)
    metrics.DB_QUERY.labels(verb).observe(seconds)
    if seconds * 1000 >= slow_query_ms:
        metrics.DB_SLOW_QUERIES.labels(verb).inc()
        # The statement with its placeholders: parameters may hold personal data.
        log.warning("slow_query", duration_ms=round(seconds * 1000, 1), operation=verb, sql=statement)


def instrument(engine: AsyncEngine, *, slow_query_ms: int) -> None:
    sync_engine = engine.sync_engine
    pool = sync_engine.pool
    if isinstance(pool, AsyncAdaptedQueuePool):
        metrics.DB_POOL_MAX.inc(pool.size() + max(pool._max_overflow, 0))

    @event.listens_for(sync_engine, "connect")
    def _opened(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        metrics.DB_POOL_OPEN.inc()
        record.info[SLOW_QUERY_MS] = slow_query_ms  # for statements sent past SQLAlchemy (core/query)

    @event.listens_for(sync_engine, "close")
    def _closed(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        metrics.DB_POOL_OPEN.dec()

    @event.listens_for(sync_engine, "detach")
    def _detached(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        metrics.DB_POOL_OPEN.dec()

    @event.listens_for(sync_engine, "checkout")
    def _checked_out(
        dbapi_connection: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection
    ) -> None:
        metrics.DB_POOL_CHECKED_OUT.inc()

    @event.listens_for(sync_engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        metrics.DB_POOL_CHECKED_OUT.dec()

    @event.listens_for(sync_engine, "before_cursor_execute")
    def _before(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        conn.info[_STARTED] = time.perf_counter()

    @event.listens_for(sync_engine, "after_cursor_execute")
    def _after(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        observe(statement, time.perf_counter() - conn.info.pop(_STARTED), slow_query_ms=slow_query_ms)

    @event.listens_for(sync_engine, "handle_error")
    def _failed(context: ExceptionContext) -> None:
        if context.connection is not None:
            context.connection.info.pop(_STARTED, None)
