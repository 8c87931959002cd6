"""Active users: distinct signed-in users seen in the last few minutes.

With Redis the set is shared by every instance (a sorted set scored by last-seen time),
so any instance reports the whole service's figure. Without Redis each process counts
the users it served itself, which is right for a single instance.
"""

from __future__ import annotations

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

    Each process writes a user at most once per ``refresh_s``: at 2,500 requests/s the
    set gets a write per user per half-minute rather than one per request, and the count
    stays exact to within ``refresh_s`` of the window.
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

    async def seen(self, user_id: int) -> None:
        now = self._clock()
        if now - self._written.get(user_id, float("-inf")) < self.refresh_s:
            return
        self._written[user_id] = now
        if len(self._written) > 100_000:
            self._written = {u: at for u, at in self._written.items() if now - at < self.refresh_s}
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zadd(self.key, {str(user_id): now})
                pipe.expire(self.key, int(self.window_s) * 2)
                await pipe.execute()
        except (RedisError, OSError) as exc:  # a metric must never fail a request
            self._written.pop(user_id, None)
            log.warning("active_users_write_failed", error=type(exc).__name__)

    async def count(self) -> int:
        now = self._clock()
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(self.key, "-inf", now - self.window_s)
            pipe.zcard(self.key)
            _, users = await pipe.execute()
        return int(users)


def tracker(redis: Redis | None) -> ActiveUsers:
    return RedisActiveUsers(redis) if redis is not None else LocalActiveUsers()
