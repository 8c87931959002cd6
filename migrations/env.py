"""Alembic environment: runs migrations over asyncpg against the configured database."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from ftw.config import get_settings
from ftw.core.db import async_url
from ftw.core.migrations import include_name
from ftw.models import metadata

config = context.config


def _url() -> str:
    url = config.attributes.get("url") or get_settings().database_url
    if not url:
        raise SystemExit("No database URL: run `ftw migrate` or set FTW_DATABASE_URL")
    return str(url)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection, target_metadata=metadata, compare_type=True, include_name=include_name
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(async_url(_url()), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
