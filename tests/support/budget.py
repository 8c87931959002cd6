"""Counting what one request costs: SQL statements and Redis round trips, on the real servers.

SQL is seen in two places that do not overlap: SQLAlchemy's ``before_cursor_execute`` (every
statement SQLAlchemy sends; asyncpg runs it as a prepared statement and does not log it), and
asyncpg's query logger on every pooled connection (what asyncpg sends on its own: BEGIN,
COMMIT, ROLLBACK, pings, raw queries such as the task queue's, and the compiled reads sent on
the read pools' connections, core/readpool.py). The one statement both see,
an ``executemany()``, is counted once. Checked once against PostgreSQL's own log
(``log_statement = 'all'``): the same number for every request of tests/test_query_budgets.py.

The report lists SQLAlchemy's statements in the order sent. asyncpg reports its own after
they finish, through ``loop.call_soon``: BEGIN is put back in front of the statement that
opened the transaction; another of its statements may show one place late.

Redis is counted at ``AbstractConnection.send_packed_command``: one call per command sent
alone, one per pipeline (a Lua script is one command).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from redis.asyncio.connection import AbstractConnection
from sqlalchemy import event
from sqlalchemy.pool import ConnectionPoolEntry

from ftw.core.db import Database

SHOWN_CHARS = 150  # of each statement, in a failure's report


@dataclass(frozen=True)
class Budget:
    """What one request may cost: SQL statements and Redis round trips."""

    sql: int
    redis: int


@dataclass
class Recorder:
    """The statements and Redis commands sent while ``counting()`` is open."""

    redis_prefix: str = ""
    sql: list[str] = field(default_factory=list)
    redis: list[str] = field(default_factory=list)
    active: bool = False
    # Statements SQLAlchemy flagged as executemany(). A real one asyncpg logs too: count it
    # once. (SQLAlchemy's multi-row INSERT batches are flagged as well; asyncpg does not log them.)
    _many: list[str] = field(default_factory=list)

    # -- wiring ----------------------------------------------------------------------------

    def watch_database(self, database: Database) -> None:
        """Listen on its engine and its read pools; call before their first connection opens."""
        if database.read_pools is not None:
            database.read_pools.on_connect.append(lambda c: c.add_query_logger(self._driver_query))
        sync_engine = database.engine.sync_engine

        @event.listens_for(sync_engine, "before_cursor_execute")
        def _statement(
            conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
        ) -> None:
            if self.active:
                self.sql.append(("[many] " if many else "") + statement)
                if many:
                    self._many.append(statement)

        @event.listens_for(sync_engine, "connect")
        def _connected(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
            dbapi_connection.driver_connection.add_query_logger(self._driver_query)

    def _driver_query(self, record: Any) -> None:
        # asyncpg calls its loggers with loop.call_soon, after the query: ``counting`` lets
        # them land. SQLAlchemy sends BEGIN from inside the execution of the transaction's
        # first statement, after that statement's event: put it back in front of it.
        if not self.active:
            return
        if record.query in self._many:
            self._many.remove(record.query)
            return
        entry = "[asyncpg] " + record.query
        if record.query.startswith("BEGIN") and self.sql and not self.sql[-1].startswith("[asyncpg]"):
            self.sql.insert(len(self.sql) - 1, entry)
        else:
            self.sql.append(entry)

    def watch_redis(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Count every packet redis-py sends; Redis still gets it."""
        send = AbstractConnection.send_packed_command
        recorder = self

        async def counted(
            self: AbstractConnection, command: bytes | str | Iterable[bytes], check_health: bool = True
        ) -> None:
            if recorder.active:
                recorder.redis.append(recorder._describe(command))
            await send(self, command, check_health)

        monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)

    # -- counting --------------------------------------------------------------------------

    @asynccontextmanager
    async def counting(self) -> AsyncIterator[Recorder]:
        """Count what happens inside the block, and nothing before it."""
        await _settle()
        self.sql.clear()
        self.redis.clear()
        self._many.clear()
        self.active = True
        try:
            yield self
            await _settle()
        finally:
            self.active = False

    @property
    def measured(self) -> Budget:
        return Budget(sql=len(self.sql), redis=len(self.redis))

    def report(self) -> str:
        lines = [f"{len(self.sql)} SQL statements:"]
        lines += [f"  {n:2}. {shorten(s)}" for n, s in enumerate(self.sql, 1)]
        lines.append(f"{len(self.redis)} Redis round trips:")
        lines += [f"  {n:2}. {r}" for n, r in enumerate(self.redis, 1)]
        return "\n".join(lines)

    def _describe(self, command: bytes | str | Iterable[bytes]) -> str:
        if isinstance(command, str):
            raw = command.encode()
        elif isinstance(command, bytes):
            raw = command
        else:
            raw = b"".join(bytes(chunk) for chunk in command)
        described = []
        for words in _resp_commands(raw):
            shown = [w.decode(errors="replace") for w in words[:2]]
            if len(shown) == 2:
                shown[1] = shown[1].replace(self.redis_prefix, "…") if self.redis_prefix else shown[1]
                shown[1] = shown[1][:60]
            described.append(" ".join(shown))
        return " | ".join(described) if described else repr(raw[:60])


async def _settle() -> None:
    """Let callbacks already scheduled on the loop (asyncpg's query loggers) run."""
    for _ in range(3):
        await asyncio.sleep(0)


def shorten(statement: str) -> str:
    flat = re.sub(r"\s+", " ", statement).strip()
    return flat if len(flat) <= SHOWN_CHARS else flat[: SHOWN_CHARS - 1] + "…"


def _resp_commands(raw: bytes) -> list[list[bytes]]:
    """The commands of a packed RESP request (a pipeline packs several)."""
    commands: list[list[bytes]] = []
    at = 0
    while at < len(raw) and raw[at : at + 1] == b"*":
        end = raw.index(b"\r\n", at)
        count = int(raw[at + 1 : end])
        at = end + 2
        words = []
        for _ in range(count):
            end = raw.index(b"\r\n", at)
            size = int(raw[at + 1 : end])
            words.append(raw[end + 2 : end + 2 + size])
            at = end + 2 + size + 2
        commands.append(words)
    return commands
