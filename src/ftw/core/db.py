"""Engines, sessions and the declarative base.

One session per request: the request dependency commits once at the end and rolls back
on error; services only ``flush()``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, func
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ftw.config import Settings
from ftw.core import dbmetrics
from ftw.core.errors import DomainError

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


def create_engine(url: str, settings: Settings, *, pool_size: int | None = None) -> AsyncEngine:
    """An engine tuned for PgBouncer in transaction mode: no prepared-statement caches."""
    pool = settings.pool
    size = pool_size if pool_size is not None else pool.min_size
    connect_args: dict[str, Any] = {
        "statement_cache_size": 0,
        "timeout": pool.connect_timeout_s,
        "command_timeout": pool.statement_timeout_s + 5,
        "server_settings": {
            "application_name": f"ftw-{os.getpid()}",
            "statement_timeout": str(int(pool.statement_timeout_s * 1000)),
        },
    }
    engine = create_async_engine(
        async_url(url).update_query_dict({"prepared_statement_cache_size": "0"}),
        poolclass=dbmetrics.TimedPool,
        pool_size=size,
        max_overflow=max(pool.max_size - size, 0),
        pool_timeout=pool.connect_timeout_s,
        pool_recycle=int(pool.idle_timeout_s),
        pool_pre_ping=True,
        connect_args=connect_args,
    )
    dbmetrics.instrument(engine, slow_query_ms=settings.slow_query_ms)
    return engine


def on_rollback(session: AsyncSession, undo: Callable[[], Awaitable[None]]) -> None:
    """Register work outside the database (a stored file) to undo if the request fails."""
    session.info.setdefault("on_rollback", []).append(undo)


async def _undo(session: AsyncSession) -> None:
    for undo in reversed(session.info.pop("on_rollback", [])):
        await undo()


class Database:
    """The process's engine and session factory, created once at start-up."""

    def __init__(self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.engine = engine
        self.sessions = sessions

    @classmethod
    def connect(cls, url: str, settings: Settings, *, pool_size: int | None = None) -> Database:
        engine = create_engine(url, settings, pool_size=pool_size)
        return cls(engine, async_sessionmaker(engine, expire_on_commit=False))

    async def dispose(self) -> None:
        await self.engine.dispose()

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
