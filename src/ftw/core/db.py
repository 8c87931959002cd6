"""Engines, sessions and the declarative base.

One session per request: the request dependency commits once at the end and rolls back
on error; services only ``flush()``. Read-only requests take a ``ReadSession`` instead,
on a replica when one is fit (see core/replicas).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing, asynccontextmanager
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import DateTime, MetaData, event, func
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    SessionTransaction,
    mapped_column,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from ftw.config import Settings
from ftw.core import dbmetrics
from ftw.core.errors import DomainError
from ftw.core.readpool import POOLED, ReadPools
from ftw.core.replicas import ReadKind, ReadRouter, Replica, ReplicaSet, replica_name

log = structlog.get_logger(__name__)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: DateTime(timezone=True)}


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


def async_url(url: str) -> URL:
    """Accept any PostgreSQL URL spelling and return the asyncpg one."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg")


def sync_libpq_url(url: str | URL) -> str:
    """The plain ``postgresql://`` form that libpq tools and asyncpg.connect understand."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


_ENGINE_QUERY = ("prepared_statement_cache_size",)  # options of SQLAlchemy's dialect, not libpq's
_IDLE_SINCE = "ftw.idle_since"  # pool record info: when the connection was last checked in


def _libpq_url(engine: AsyncEngine) -> str:
    return sync_libpq_url(engine.url.difference_update_query(_ENGINE_QUERY))


def _statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4().hex}__"


def _connect_args(settings: Settings) -> dict[str, Any]:
    """What every connection is opened with, by SQLAlchemy's pool or by ``ReadPools``."""
    pool = settings.pool
    return {
        "timeout": pool.connect_timeout_s,
        "command_timeout": pool.statement_timeout_s + 5,
        "server_settings": {
            "application_name": f"ftw-{os.getpid()}",
            "statement_timeout": str(int(pool.statement_timeout_s * 1000)),
        },
    }


def read_pool_size(settings: Settings) -> int:
    """How many of a process's ``pool.max_size`` connections to a server its read pool may
    open: none behind an old PgBouncer, where reads stay on SQLAlchemy's pool."""
    pool = settings.pool
    return 0 if pool.pooler == "pgbouncer" else max(1, round(pool.max_size * pool.read_share))


def create_engine(url: str, settings: Settings, *, pool_size: int | None = None) -> AsyncEngine:
    """An engine for the configured pooler (``pool.pooler``).

    Direct connections and PgBouncer 1.21+ keep prepared statements, so a repeated statement
    costs one round trip instead of a prepare and an execute. Older PgBouncers in transaction
    mode hand each transaction any server connection: there the engine keeps no statement
    cache and names statements with a uuid, so a shared server connection never sees a name
    twice ("prepared statement already exists").
    """
    pool = settings.pool
    size = pool_size if pool_size is not None else pool.min_size
    cached = pool.pooler != "pgbouncer"
    connect_args = _connect_args(settings)
    if not cached:
        connect_args |= {"statement_cache_size": 0, "prepared_statement_name_func": _statement_name}
    cache_size = pool.statement_cache_size if cached else 0
    orm_max = pool.max_size - read_pool_size(settings)
    engine = create_async_engine(
        async_url(url).update_query_dict({_ENGINE_QUERY[0]: str(cache_size)}),
        poolclass=dbmetrics.TimedPool,
        pool_size=min(size, orm_max),
        max_overflow=max(orm_max - size, 0),
        pool_timeout=pool.connect_timeout_s,
        pool_recycle=int(pool.idle_timeout_s),
        connect_args=connect_args,
    )
    _ping_when_idle(engine, pool.ping_idle_s)
    dbmetrics.instrument(engine, slow_query_ms=settings.slow_query_ms)
    return engine


def _ping_when_idle(engine: AsyncEngine, idle_s: float) -> None:
    """Ping a connection at checkout only when it sat idle longer than ``idle_s``.

    SQLAlchemy's ``pool_pre_ping`` costs a round trip on every checkout; under load no
    connection idles that long, so this costs nothing. A connection that died while busy
    fails its statement and is invalidated; the hot reads (``core.query.Query``) then try
    once more on a fresh connection.
    """
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: ConnectionPoolEntry, _: PoolProxiedConnection) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since <= idle_s:
            return
        try:
            sync_engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # the pool discards it and checks out another
            raise DisconnectionError(f"idle connection failed its ping: {error!r}") from error


def on_rollback(session: AsyncSession, undo: Callable[[], Awaitable[None]]) -> None:
    """Register work outside the database (a stored file) to undo if the request fails."""
    session.info.setdefault("on_rollback", []).append(undo)


async def _undo(session: AsyncSession) -> None:
    """Run the undo steps; one that fails (storage down too) leaves an orphan, logged, and the
    caller still gets the request's own error."""
    for undo in reversed(session.info.pop("on_rollback", [])):
        try:
            await undo()
        except Exception as failure:
            log.warning("undo_failed", reason=f"{type(failure).__name__}: {failure}"[:300])


STATEMENT_TIMEOUT_MS = "statement_timeout_ms"  # session.info key: the timeout to set


class TimeoutSession(Session):
    """Sets the statement timeout in every transaction it begins, behind PgBouncer.

    The startup parameter of create_engine is enough on a direct connection (there the
    session carries no timeout and sets nothing), but PgBouncer in transaction mode drops it
    and hands each transaction any server connection, so only a ``SET LOCAL`` inside the
    transaction reliably holds.
    """


@event.listens_for(TimeoutSession, "after_begin")
def _set_statement_timeout(session: Session, _: SessionTransaction, connection: Connection) -> None:
    milliseconds = session.info.get(STATEMENT_TIMEOUT_MS)
    if milliseconds is not None:
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(milliseconds)}")


class ReadOnlyError(RuntimeError):
    """Something tried to write through a read session: a bug, never a user error."""


class ReadOnlySession(TimeoutSession):
    """The synchronous core of ``ReadSession``: refuses flushes and ORM DML statements."""


@event.listens_for(ReadOnlySession, "before_flush")
def _refuse_flush(session: Session, *_: object) -> None:
    raise ReadOnlyError("a read session cannot write; use SessionDep")


@event.listens_for(ReadOnlySession, "do_orm_execute")
def _refuse_dml(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise ReadOnlyError("a read session cannot write; use SessionDep")


class ReadSession(AsyncSession):
    """A session that only reads: on a replica, or on the primary when no replica is fit.

    Its own type so read-only routes say so in their signature; writing through it raises
    ``ReadOnlyError`` (a replica would refuse the write anyway, the primary would not).
    """

    sync_session_class = ReadOnlySession


async def close_read(session: ReadSession) -> None:
    """Give back the connection a read session holds, shielded from the request's
    cancellation as ``AsyncSession`` does; one whose reads all went to the read pools
    holds none, and closing it would only cost a greenlet hop and a task."""
    if session.in_transaction():
        await asyncio.shield(session.close())


class Database:
    """The process's engines and session factories, created once at start-up."""

    def __init__(
        self,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        router: ReadRouter | None = None,
        *,
        autocommit_reads: bool = True,
        read_pools: ReadPools | None = None,
    ) -> None:
        self.engine = engine
        self.sessions = sessions
        self.router = router
        self.autocommit_reads = autocommit_reads
        self.read_pools = read_pools
        self._readers: dict[AsyncEngine, AsyncEngine] = {}

    @classmethod
    def connect(cls, url: str, settings: Settings, *, pool_size: int | None = None) -> Database:
        engine = create_engine(url, settings, pool_size=pool_size)
        behind_pooler = settings.pool.pooler != "direct"
        timeout = {STATEMENT_TIMEOUT_MS: int(settings.pool.statement_timeout_s * 1000)}
        sessions = async_sessionmaker(
            engine,
            expire_on_commit=False,
            sync_session_class=TimeoutSession,
            info=timeout if behind_pooler else {},
        )
        urls = {ReadKind.BROWSE: settings.replicas.browse, ReadKind.ANALYTICS: settings.replicas.analytics}
        router = None
        if any(urls.values()):
            sets = {
                kind: ReplicaSet([Replica(replica_name(u), create_engine(u, settings)) for u in found])
                for kind, found in urls.items()
            }
            router = ReadRouter(sets, settings.replicas)
        # An older PgBouncer may send a statement's prepare and its execution to different
        # server connections unless a transaction holds them together: there every read
        # stays in a transaction on SQLAlchemy's pool.
        autocommit_reads = settings.pool.pooler != "pgbouncer"
        read_pools = None
        if autocommit_reads:
            read_pools = ReadPools(
                _libpq_url,
                _connect_args(settings) | {"statement_cache_size": settings.pool.statement_cache_size},
                max_size=read_pool_size(settings),
                acquire_timeout_s=settings.pool.connect_timeout_s,
                idle_timeout_s=settings.pool.idle_timeout_s,
                slow_query_ms=settings.slow_query_ms,
            )
        return cls(engine, sessions, router, autocommit_reads=autocommit_reads, read_pools=read_pools)

    @property
    def url(self) -> str:
        """The primary's URL as asyncpg.connect and libpq tools take it."""
        return _libpq_url(self.engine)

    def _reader(self, bind: Any) -> Any:
        """``bind`` in autocommit: a read sends its statements alone, without the BEGIN and
        COMMIT round trips a transaction costs. (A test's connection is left as it is.)"""
        if not self.autocommit_reads or not isinstance(bind, AsyncEngine):
            return bind
        if bind not in self._readers:
            self._readers[bind] = bind.execution_options(isolation_level="AUTOCOMMIT")
        return self._readers[bind]

    async def dispose(self) -> None:
        if self.read_pools is not None:
            await self.read_pools.close()
        await self.engine.dispose()
        if self.router is not None:
            await self.router.dispose()

    def wrote(self, user_id: int) -> None:
        """Record a committed write by ``user_id`` so its next reads see it."""
        if self.router is not None:
            self.router.wrote(user_id)

    async def open_read(
        self, kind: ReadKind, *, user_id: int | None = None, recent_writer: bool = False
    ) -> ReadSession:
        """A read-only session for ``kind`` of read, never committed; ``close_read`` gives
        back what it holds.

        Tries the fit replicas of the kind's set in turn; a replica whose connection fails
        here is skipped and the next one tried, then the primary: the reader gets an answer,
        perhaps from a busier server, rather than an error.
        """
        options = {**self.sessions.kw, "sync_session_class": ReadOnlySession}
        if self.autocommit_reads:  # no transaction to set a timeout in: the connection's holds
            options["info"] = {}
        if self.router is not None:
            found = self.router.candidates(kind, user_id=user_id, recent_writer=recent_writer)
            async with aclosing(found) as candidates:
                async for replica in candidates:
                    candidate = ReadSession(**{**options, "bind": self._reader(replica.engine)})
                    try:
                        await candidate.connection()
                    except (DBAPIError, OSError) as error:
                        await candidate.close()
                        self.router.failed(replica, reason=f"connect failed: {error!r}")
                        continue
                    return candidate
        bind = self._reader(options.get("bind"))
        if self.read_pools is not None and isinstance(bind, AsyncEngine):
            # Its compiled reads take asyncpg connections of their own (core/readpool.py).
            options["info"] = {POOLED: await self.read_pools.of(bind)}
        return ReadSession(**{**options, "bind": bind})

    @asynccontextmanager
    async def read_session(
        self, kind: ReadKind, *, user_id: int | None = None, recent_writer: bool = False
    ) -> AsyncIterator[ReadSession]:
        """``open_read`` for the length of a block."""
        session = await self.open_read(kind, user_id=user_id, recent_writer=recent_writer)
        try:
            yield session
        finally:
            await close_read(session)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: committed when the block ends, rolled back when it raises."""
        async with self.sessions() as session:
            try:
                yield session
                await session.commit()
            except DomainError as refusal:
                if refusal.keep_writes:
                    await session.commit()
                else:
                    await session.rollback()
                    await _undo(session)
                raise
            except BaseException:
                await session.rollback()
                await _undo(session)
                raise
            session.info.pop("on_rollback", None)
