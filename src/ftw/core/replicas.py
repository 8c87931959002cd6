"""Read routing over streaming replicas: which replica serves a read, and when not to use one.

Each replica set is used round-robin. A replica whose connection fails, or whose replay lag
exceeds ``max_lag_s``, is skipped for ``retry_after_s`` and then probed again; when no
replica of a set is fit, the read goes to the primary. A user who has just written reads
from the primary for ``read_your_writes_s`` so it always sees its own writes: remembered by
the process that took the write, and across instances by a marker in Redis that the rate
limiter's one round trip per request sets on a write and looks up on a read
(``RECENT_WRITER`` in the request's state).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from enum import StrEnum

import structlog
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from ftw.config import ReplicaSettings

log = structlog.get_logger(__name__)

# Caught up (everything received is replayed): no lag. Otherwise: the age of the last
# replayed commit. An idle primary therefore never makes a replica look late.
LAG_SQL = text(
    "SELECT CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()"
    " THEN 0 ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 'Infinity')"
    " END::float8"
)
_WRITERS_KEPT = 10_000  # past this many remembered writers, forget the expired ones


class ReadKind(StrEnum):
    BROWSE = "browse"  # replica set 1: browse and search
    ANALYTICS = "analytics"  # replica set 2
    OWN = "own"  # the caller's own records, read where they are written: the primary


@dataclass(eq=False)
class Replica:
    name: str  # host:port/database, never the password
    engine: AsyncEngine
    skip_until: float = 0.0
    checked_at: float = float("-inf")
    lag_s: float | None = None


@dataclass
class ReplicaSet:
    replicas: list[Replica]
    _next: int = field(default=0)

    def rotation(self) -> list[Replica]:
        """Every replica once, starting one further along at each call (round-robin)."""
        if not self.replicas:
            return []
        start = self._next % len(self.replicas)
        self._next = start + 1
        return self.replicas[start:] + self.replicas[:start]


def replica_name(url: str) -> str:
    parsed = make_url(url)
    return f"{parsed.host}:{parsed.port or 5432}/{parsed.database}"


# Request-state key: the caller wrote recently, on whichever instance (set by core/ratelimit).
RECENT_WRITER = "ftw.recent_writer"


class ReadRouter:
    """Chooses replicas for reads; the caller falls back to the primary when none is fit."""

    def __init__(self, sets: dict[ReadKind, ReplicaSet], settings: ReplicaSettings) -> None:
        self.sets = sets
        self.settings = settings
        self._writers: dict[int, float] = {}

    async def candidates(
        self, kind: ReadKind, *, user_id: int | None, recent_writer: bool = False
    ) -> AsyncGenerator[Replica]:
        """Fit replicas of ``kind``'s set in round-robin order; none for a recent writer (one
        this process saw write, or ``recent_writer``: one another instance saw)."""
        if (
            kind not in self.sets
            or recent_writer
            or (user_id is not None and self._writers.get(user_id, 0.0) > time.monotonic())
        ):
            return
        for replica in self.sets[kind].rotation():
            if time.monotonic() < replica.skip_until:
                continue
            if time.monotonic() - replica.checked_at >= self.settings.probe_interval_s:
                # Marked before the probe, so concurrent requests use the last verdict
                # instead of all probing at once.
                replica.checked_at = time.monotonic()
                if not await self._probe(replica):
                    continue
            yield replica

    async def _probe(self, replica: Replica) -> bool:
        try:
            async with asyncio.timeout(self.settings.probe_timeout_s), replica.engine.connect() as conn:
                lag = float((await conn.execute(LAG_SQL)).scalar_one())
        except Exception as error:  # any failure means: do not read from it
            self.failed(replica, reason=f"probe failed: {error!r}")
            return False
        replica.lag_s = lag
        if lag > self.settings.max_lag_s:
            self.failed(replica, reason=f"lag {lag:.1f} s exceeds {self.settings.max_lag_s} s")
            return False
        return True

    def failed(self, replica: Replica, *, reason: str) -> None:
        """Skip ``replica`` for ``retry_after_s``; it is probed again after that."""
        replica.skip_until = time.monotonic() + self.settings.retry_after_s
        replica.checked_at = float("-inf")
        retry = self.settings.retry_after_s
        log.warning("replica skipped", replica=replica.name, reason=reason, retry_in_s=retry)

    def wrote(self, user_id: int) -> None:
        """``user_id`` committed a write: its reads go to the primary for a while."""
        now = time.monotonic()
        if len(self._writers) > _WRITERS_KEPT:
            self._writers = {user: until for user, until in self._writers.items() if until > now}
        self._writers[user_id] = now + self.settings.read_your_writes_s

    async def dispose(self) -> None:
        for replica_set in self.sets.values():
            for replica in replica_set.replicas:
                await replica.engine.dispose()
