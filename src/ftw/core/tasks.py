"""Background tasks on a PostgreSQL queue (pgqueuer).

``enqueue`` writes the task through the request's own connection, inside its
transaction: the task exists exactly when the write that caused it committed, and a
rolled-back request leaves no task behind. Handlers must be safe to run twice; what a
handler gets besides its payload is ``integrations.context.TaskContext``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, cast

import asyncpg
from pgqueuer.db import AsyncpgDriver
from pgqueuer.queries import Queries
from sqlalchemy.ext.asyncio import AsyncSession


async def raw_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under the session's current transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = cast(asyncpg.Connection, raw.driver_connection)
    if not driver.is_in_transaction():
        # SQLAlchemy's asyncpg adapter opens the transaction lazily, on its first statement:
        # start it so a task enqueued first thing is still inside the request's transaction.
        await connection.exec_driver_sql("SELECT 1")
    return driver


async def enqueue(
    session: AsyncSession,
    task: str,
    payload: dict[str, Any],
    *,
    delay: timedelta | None = None,
    dedupe_key: str | None = None,
    priority: int = 0,
) -> None:
    """Queue ``task`` with a JSON payload, committed or discarded with the session.

    ``dedupe_key`` keeps at most one queued copy of a task (e.g. one retry per payment).
    """
    queries = Queries(AsyncpgDriver(await raw_connection(session)))
    await queries.enqueue(
        task,
        json.dumps(payload).encode(),
        priority=priority,
        execute_after=delay,
        dedupe_key=dedupe_key,
        on_conflict="skip",
    )


def decode(payload: bytes | None) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(payload or b"{}")
    return data
