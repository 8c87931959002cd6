"""Connections for the commands every request sends to Redis (the limiter's script, the
cache's MGET), straight on redis-py's connections.

A command through ``redis.asyncio.Redis`` passes its connection pool (a lock, pool
observability records, a readiness probe of the socket on every checkout), a retry wrapper,
an event dispatcher and the response callbacks: two to three times the client CPU of a
call here (65-86 against 29 µs for the limiter's script with 32 calls in flight,
`benchmarks/redis_calls.py`). Here a connection
goes back on a free list and the next command takes it, sends and reads its reply: nothing
else.

A connection that fails, times out or is cancelled mid-command is disconnected, never
reused: its reply could still arrive and answer the next caller. Error replies
(``ResponseError``) raise as with the client.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as redis
from redis.asyncio.connection import AbstractConnection
from redis.typing import EncodableT

IDLE_MAX = 64  # connections kept open between bursts; more are closed once returned


class RedisPool:
    """A free list of connections to one Redis, made as redis-py's pool would make them."""

    def __init__(self, factory: redis.ConnectionPool, *, idle_max: int = IDLE_MAX) -> None:
        self._factory = factory
        self._idle: list[AbstractConnection] = []
        self._idle_max = idle_max

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisPool:
        """Connections to ``url`` with redis-py's connection ``options`` (timeouts, health checks).

        Pass ``socket_timeout=None`` when the caller bounds each call itself: redis-py 8's
        default (5 s) sends every command from a task of its own and arms a timer per read.
        """
        return cls(redis.ConnectionPool.from_url(url, **options))

    async def call(self, *args: EncodableT) -> Any:
        """One command, one round trip: its reply as redis-py parses it (bytes, int, lists)."""
        connection = self._idle.pop() if self._idle else self._connection()
        try:
            await connection.send_command(*args)  # connects a new connection first
            reply = await connection.read_response()
        except BaseException:
            await connection.disconnect(nowait=True)
            raise
        if len(self._idle) < self._idle_max:
            self._idle.append(connection)
        else:
            await connection.disconnect()
        return reply

    def _connection(self) -> AbstractConnection:
        made: AbstractConnection = self._factory.make_connection()  # type: ignore[no-untyped-call]
        return made

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.disconnect()
