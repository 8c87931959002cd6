"""Redis commands issued in the same turn of the event loop, sent as one pipeline.

Under load many requests reach Redis in the same turn of the loop: a burst read in one poll
starts its requests together, and each has run its middleware up to the limiter before the
loop turns again. A round trip of its own per request costs redis-py's command machinery, a
connection from the pool, a send and a wake-up apiece. Here the first command of a turn
schedules one flush at the end of the turn and every command of that turn rides in it: one
connection, one write, one read. Each caller still gets its own reply, or its own error.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

Queued = tuple[tuple[Any, ...], asyncio.Future[Any]]


class AutoPipeline:
    """``execute(*command)`` answers like ``Redis.execute_command``; commands queued in the same
    loop turn share one pipeline (not a transaction), bounded by ``timeout_s`` as a whole."""

    def __init__(self, client: Redis, *, timeout_s: float) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self._queued: list[Queued] = []
        self._sending: set[asyncio.Task[None]] = set()

    def execute(self, *command: Any) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        if not self._queued:
            loop.call_soon(self._flush)
        future: asyncio.Future[Any] = loop.create_future()
        self._queued.append((command, future))
        return future

    def _flush(self) -> None:
        batch, self._queued = self._queued, []
        task = asyncio.ensure_future(self._send(batch))
        self._sending.add(task)  # held until done: the loop keeps only a weak reference
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[Queued]) -> None:
        try:
            async with asyncio.timeout(self.timeout_s):
                replies = await self._replies([command for command, _ in batch])
        except asyncio.CancelledError:  # the loop is closing: no caller waits forever
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # every caller of the batch gets the failure
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), reply in zip(batch, replies, strict=True):
            if future.done():  # its caller gave up (timed out, or the client left)
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def _replies(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Each command's reply, or the error Redis answered it with."""
        if len(commands) == 1:  # alone in its turn: a pipeline would only add its own cost
            try:
                return [await self.client.execute_command(*commands[0])]  # type: ignore[no-untyped-call]
            except ResponseError as error:
                return [error]
        async with self.client.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
            return replies
