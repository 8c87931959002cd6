"""Read-through cache: Redis when configured, a per-process LRU otherwise.

Entries carry a soft expiry (the kind's TTL). Kinds in ``SWR_KINDS`` are served stale
once it has passed while exactly one caller refreshes them in the background (a Redis
``SET NX PX`` lock, so one instance in the fleet); the hard expiry, twice the TTL, drops
them. Writes invalidate by bumping a version counter (``territory:<fips>``) that every
entry derived from it is stored under: an entry of another version is a miss, the counter
and the entry are read in one round trip, and there is no key listing, no pattern delete.

A cache outage is a miss: every Redis error is logged (at most once per interval) and
the value is loaded from PostgreSQL, so the API keeps answering without Redis.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import Annotated, Literal, NamedTuple, Protocol, TypeVar, cast

import structlog
from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ftw.config import CacheTTL, Settings
from ftw.core import metrics
from ftw.core.redispool import RedisPool

log = structlog.get_logger(__name__)

Kind = Literal[
    "live_stats",
    "fresh_jobs",
    "contractor_stats",
    "job_listings",
    "user_profile",
    "territory_metrics",
    "search_results",
]
SWR_KINDS: frozenset[str] = frozenset({"live_stats", "fresh_jobs", "job_listings", "territory_metrics"})
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]

REDIS_TIMEOUT_S = 0.25  # a slow Redis must cost a request little more than a miss
REFRESH_LOCK_MS = 10_000
LOG_EVERY_S = 30.0


class Backend(Protocol):
    async def get(self, key: str) -> bytes | None: ...
    async def get_many(self, *keys: str) -> list[bytes | None]: ...
    async def set(self, key: str, value: bytes, ttl_s: float) -> None: ...
    async def lock(self, key: str, ttl_ms: int) -> bool: ...
    async def unlock(self, key: str) -> None: ...
    async def incr(self, key: str) -> int: ...
    async def close(self) -> None: ...


class MemoryBackend:
    """One process's cache, bounded by an LRU; correct for a single instance."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._locks: dict[str, float] = {}

    async def get(self, key: str) -> bytes | None:
        found = self._entries.get(key)
        if found is None or found[0] <= time.monotonic():
            return None
        self._entries.move_to_end(key)
        return found[1]

    async def get_many(self, *keys: str) -> list[bytes | None]:
        return [await self.get(key) for key in keys]

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        self._entries[key] = (time.monotonic() + ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def lock(self, key: str, ttl_ms: int) -> bool:
        now = time.monotonic()
        if self._locks.get(key, 0.0) > now:
            return False
        self._locks[key] = now + ttl_ms / 1000
        return True

    async def unlock(self, key: str) -> None:
        self._locks.pop(key, None)

    async def incr(self, key: str) -> int:
        """A counter is an entry like any other, that never expires."""
        found = await self.get(key)
        value = int(found) + 1 if found is not None else 1
        await self.set(key, str(value).encode(), math.inf)
        return value

    async def close(self) -> None:
        return None


class NullBackend:
    """Stores nothing: the cache switched off."""

    async def get(self, key: str) -> bytes | None:
        return None

    async def get_many(self, *keys: str) -> list[bytes | None]:
        return [None] * len(keys)

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        return None

    async def lock(self, key: str, ttl_ms: int) -> bool:
        return False

    async def unlock(self, key: str) -> None:
        return None

    async def incr(self, key: str) -> int:
        return 0

    async def close(self) -> None:
        return None


class RedisBackend:
    """Shared by every instance; keys live under ``prefix``."""

    def __init__(self, url: str, *, prefix: str = "ftw:cache:", timeout_s: float = REDIS_TIMEOUT_S) -> None:
        # No socket timeout (redis-py 8 sets 5 s: a task per send, a timer per read);
        # ``Cache._guard`` bounds each call with one timer.
        self.redis = RedisPool.from_url(
            url, socket_timeout=None, socket_connect_timeout=timeout_s, health_check_interval=30
        )
        self.prefix = prefix

    async def get(self, key: str) -> bytes | None:
        value: bytes | None = await self.redis.call("GET", self.prefix + key)
        return value

    async def get_many(self, *keys: str) -> list[bytes | None]:
        values: list[bytes | None] = await self.redis.call("MGET", *[self.prefix + key for key in keys])
        return values

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        await self.redis.call("SET", self.prefix + key, value, "PX", max(1, int(ttl_s * 1000)))

    async def lock(self, key: str, ttl_ms: int) -> bool:
        return await self.redis.call("SET", self.prefix + "lock:" + key, b"1", "NX", "PX", ttl_ms) is not None

    async def unlock(self, key: str) -> None:
        await self.redis.call("DEL", self.prefix + "lock:" + key)

    async def incr(self, key: str) -> int:
        return int(await self.redis.call("INCR", self.prefix + key))

    async def close(self) -> None:
        await self.redis.aclose()


class Cache:
    """Per-kind TTLs, stale-while-revalidate, versioned invalidation, hit/miss metrics."""

    def __init__(self, backend: Backend, ttl: CacheTTL, sessions: Sessions) -> None:
        self.backend = backend
        self.ttl = ttl
        self._sessions = sessions
        self._inflight: dict[str, asyncio.Future[bytes]] = {}
        self._refreshing: set[asyncio.Task[None]] = set()
        self._last_error_log = 0.0

    async def fetch(
        self,
        kind: Kind,
        key: str,
        model: type[M],
        loader: Callable[[AsyncSession], Awaitable[M]],
        *,
        session: AsyncSession,
        version: str | None = None,
    ) -> M:
        """The cached value of ``key``, else ``loader(session)`` stored for the kind's TTL.

        A stale entry of a stale-while-revalidate kind is returned as is, and one background
        task refreshes it through ``loader`` on a session of its own. With ``version`` the
        entry counts only while that version (see ``bump``) is the one it was stored under;
        the version and the entry are read in one round trip.
        """
        payload, loaded = await self._lookup(kind, key, loader, session=session, version=version)
        if loaded is not None:
            return cast(M, loaded)
        return model.model_validate_json(payload)

    async def payload(
        self,
        kind: Kind,
        key: str,
        loader: Callable[[AsyncSession], Awaitable[BaseModel]],
        *,
        session: AsyncSession,
        version: str | None = None,
    ) -> bytes:
        """``fetch``, as the JSON the entry holds: an answer sent as is, neither parsed nor
        serialised again."""
        payload, _ = await self._lookup(kind, key, loader, session=session, version=version)
        return payload

    async def _lookup(
        self,
        kind: Kind,
        key: str,
        loader: Callable[[AsyncSession], Awaitable[BaseModel]],
        *,
        session: AsyncSession,
        version: str | None,
    ) -> tuple[bytes, BaseModel | None]:
        """The entry's JSON, and the value when this call loaded it."""
        full = f"{kind}:{key}"
        if version is None:
            current, raw = 0, await self._guard(self.backend.get(full), None)
        else:
            empty: list[bytes | None] = [None, None]
            counter, raw = await self._guard(self.backend.get_many(f"version:{version}", full), empty)
            current = int(counter) if counter is not None else 0
        entry = _unpack(raw) if raw is not None else None
        if entry is not None and entry.version == current:
            metrics.cache_lookup(kind, hit=True)
            if entry.soft_expiry <= time.time() and kind in SWR_KINDS:
                await self._refresh_in_background(kind, full, current, loader)
            return entry.payload, None
        metrics.cache_lookup(kind, hit=False)
        # Concurrent misses in this process share one load (single flight).
        pending = self._inflight.get(full)
        if pending is not None:
            return await asyncio.shield(pending), None
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._inflight[full] = future
        try:
            value = await loader(session)
            payload = value.model_dump_json().encode()
            future.set_result(payload)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else must
            raise
        finally:
            del self._inflight[full]
        await self._store(kind, full, current, payload)
        return payload, value

    async def bump(self, *names: str) -> None:
        """Make every key built with these versions unreachable."""
        for name in names:
            await self._guard(self.backend.incr(f"version:{name}"), 0)

    async def aclose(self) -> None:
        for task in list(self._refreshing):
            task.cancel()
        await self.backend.close()

    async def _store(self, kind: Kind, full: str, version: int, payload: bytes) -> None:
        ttl = getattr(self.ttl, kind)
        hard = ttl * 2 if kind in SWR_KINDS else ttl
        entry = _pack(Entry(time.time() + ttl, version, payload))
        await self._guard(self.backend.set(full, entry, hard), None)

    async def _refresh_in_background(
        self, kind: Kind, full: str, version: int, loader: Callable[[AsyncSession], Awaitable[BaseModel]]
    ) -> None:
        if not await self._guard(self.backend.lock(full, REFRESH_LOCK_MS), False):
            return

        async def refresh() -> None:
            try:
                async with self._sessions() as session:
                    value = await loader(session)
                await self._store(kind, full, version, value.model_dump_json().encode())
            except Exception:
                log.exception("cache_refresh_failed", key=full)
            finally:
                await self._guard(self.backend.unlock(full), None)

        task = asyncio.create_task(refresh())
        self._refreshing.add(task)
        task.add_done_callback(self._refreshing.discard)

    async def _guard(self, call: Awaitable[T], fallback: T) -> T:
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_S * 2):  # no task per call, unlike wait_for
                return await call
        except (RedisError, OSError, TimeoutError) as exc:
            now = time.monotonic()
            if now - self._last_error_log >= LOG_EVERY_S:
                self._last_error_log = now
                log.warning("cache_unavailable", error=repr(exc), effect="serving from the database")
            return fallback


class Entry(NamedTuple):
    soft_expiry: float  # time.time() past which a stale-while-revalidate kind is refreshed
    version: int  # the version it was stored under (0 without one)
    payload: bytes  # the value's JSON


def _pack(entry: Entry) -> bytes:
    return f"{entry.soft_expiry!r} {entry.version}\n".encode() + entry.payload


def _unpack(raw: bytes) -> Entry | None:
    """The entry, or None for one in another layout (written by an older release)."""
    head, _, payload = raw.partition(b"\n")
    try:
        soft, version = head.split(b" ")
        return Entry(float(soft), int(version), payload)
    except ValueError:
        return None


def build(settings: Settings, sessions: Sessions) -> Cache:
    """Redis when ``redis_url`` is set, this process's memory otherwise, nothing when disabled."""
    backend: Backend
    if not settings.cache_enabled:
        backend = NullBackend()
    elif settings.redis_url:
        backend = RedisBackend(settings.redis_url, prefix=f"{settings.redis_prefix}:cache:")
    else:
        backend = MemoryBackend()
    return Cache(backend, settings.cache_ttl, sessions)


async def get_cache(request: Request) -> Cache:
    cache: Cache = request.app.state.cache
    return cache


CacheDep = Annotated[Cache, Depends(get_cache)]


class InvalidationMiddleware:
    """Bumps the versions of the writes a request committed before its response starts, so
    the writer's next read sees them. Pure ASGI: no task per request, nothing buffered."""

    def __init__(self, app: ASGIApp, cache: Cache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with collecting() as names:

            async def bump_then_send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    await self._bump(names)
                await send(message)

            try:
                await self.app(scope, receive, bump_then_send)
            finally:  # a commit followed by a failure still changed the data
                await self._bump(names)

    async def _bump(self, names: set[str]) -> None:
        if names:
            bumped = sorted(names)
            names.clear()
            await self.cache.bump(*bumped)


def install(app: FastAPI, settings: Settings) -> None:
    """Create the app's cache and the middleware that turns committed writes into bumps."""
    app.state.cache = build(settings, lambda: app.state.db.session())
    app.add_middleware(InvalidationMiddleware, cache=app.state.cache)


# -- invalidation after commit -------------------------------------------------------------
#
# Services mark what a write changed on its session; the marks become version bumps only
# once the transaction commits (a bump before the commit would let a concurrent reader
# store the old rows under the new version). The request middleware collects them.

_DIRTY = "ftw.cache.dirty"
_committed: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar(
    "ftw_cache_committed", default=None
)


def changed(session: AsyncSession | Session, *names: str) -> None:
    """Record that this transaction changes what is cached under the version ``names``."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    sync.info.setdefault(_DIRTY, set()).update(names)


def territory(fips: str) -> str:
    """The version name of everything derived from one territory's jobs."""
    return f"territory:{fips}"


def _collect_committed(session: Session) -> None:
    if session.get_nested_transaction() is None:
        names = session.info.pop(_DIRTY, set())
        sink = _committed.get()
        if sink is not None:
            sink.update(names)


def _forget_rolled_back(session: Session, previous_transaction: object) -> None:
    if getattr(previous_transaction, "parent", None) is None:
        session.info.pop(_DIRTY, None)


def listen() -> None:
    """Turn the marks of every session into bumps on commit (or drop them on rollback);
    installed once per process by ``ftw.hooks``."""
    for name, listener in (
        ("after_commit", _collect_committed),
        ("after_soft_rollback", _forget_rolled_back),
    ):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


@contextmanager
def collecting() -> Iterator[set[str]]:
    """Collect the version names whose writes commit inside this block (and its tasks)."""
    sink: set[str] = set()
    token = _committed.set(sink)
    try:
        yield sink
    finally:
        _committed.reset(token)
