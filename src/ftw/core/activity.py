"""Active users: distinct signed-in users seen in the last few minutes.

With Redis the set is shared by every instance (a sorted set scored by last-seen time),
so any instance reports the whole service's figure. Without Redis each process counts
the users it served itself, which is right for a single instance.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)

WINDOW_S = 300.0
Clock = Callable[[], float]


class ActiveUsers(Protocol):
    async def seen(self, user_id: int) -> None: ...

    async def count(self) -> int: ...


class LocalActiveUsers:
    """This process's users; correct for one instance with one worker."""

    def __init__(self, *, window_s: float = WINDOW_S, clock: Clock = time.time) -> None:
        self.window_s = window_s
        self._clock = clock
        self._last_seen: dict[int, float] = {}

    async def seen(self, user_id: int) -> None:
        self._last_seen[user_id] = self._clock()
        if len(self._last_seen) > 100_000:  # nobody scrapes: forget the old ones anyway
            self._forget_old()

    async def count(self) -> int:
        self._forget_old()
        return len(self._last_seen)

    def _forget_old(self) -> None:
        since = self._clock() - self.window_s
        self._last_seen = {user: at for user, at in self._last_seen.items() if at >= since}


class RedisActiveUsers:
    """Every instance's users, in one Redis sorted set.

    A request only notes its user in memory; ``flush`` writes the users noted since the last
    flush in one round trip (``running`` calls it every ``flush_s``), and a user at most once
    per ``refresh_s``. The count is exact to within ``refresh_s`` of the window, and sees
    other instances' users up to ``flush_s`` late.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        key: str = "ftw:active_users",
        window_s: float = WINDOW_S,
        refresh_s: float = 30.0,
        clock: Clock = time.time,
    ) -> None:
        self.redis = redis
        self.key = key
        self.window_s = window_s
        self.refresh_s = refresh_s
        self._clock = clock
        self._written: dict[int, float] = {}
        self._noted: dict[int, float] = {}

    async def seen(self, user_id: int) -> None:
        now = self._clock()
        if now - self._written.get(user_id, float("-inf")) < self.refresh_s:
            return
        self._written[user_id] = now
        self._noted[user_id] = now
        if len(self._written) > 100_000:
            self._written = {u: at for u, at in self._written.items() if now - at < self.refresh_s}

    async def flush(self) -> None:
        """Write the users noted since the last flush; a failure only costs the metric."""
        noted, self._noted = self._noted, {}
        if not noted:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zadd(self.key, {str(user): at for user, at in noted.items()})
                pipe.expire(self.key, int(self.window_s) * 2)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            for user in noted:
                self._written.pop(user, None)
            log.warning("active_users_write_failed", error=type(exc).__name__)

    async def running(self, flush_s: float = 5.0) -> None:
        """Flush every ``flush_s`` until cancelled, then once more."""
        try:
            while True:
                await asyncio.sleep(flush_s)
                await self.flush()
        finally:
            await self.flush()

    async def count(self) -> int:
        await self.flush()
        now = self._clock()
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(self.key, "-inf", now - self.window_s)
            pipe.zcard(self.key)
            _, users = await pipe.execute()
        return int(users)


def tracker(redis: Redis | None) -> ActiveUsers:
    return RedisActiveUsers(redis) if redis is not None else LocalActiveUsers()
