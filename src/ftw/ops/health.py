"""Liveness (/healthz), readiness (/readyz) and the drain on shutdown.

/healthz answers while the process runs: a failing dependency must not make the
orchestrator restart healthy processes. /readyz says whether to send traffic here: the
database answers and is migrated to head, Redis answers (when configured), and the
process is not shutting down.

Shutdown: on SIGTERM or SIGINT readiness turns 503 at once, the server keeps serving for
``shutdown_delay_s`` while load balancers take the instance out, then uvicorn stops
accepting and lets in-flight requests finish (``graceful_timeout_s``). A second signal
stops at once.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

import structlog
from alembic.runtime.migration import MigrationContext
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
from sqlalchemy.engine import Connection

from ftw.accounts.auth import Anyone
from ftw.config import Settings
from ftw.core import migrations, signals
from ftw.core.db import Database

router = APIRouter(tags=["ops"])
log = structlog.get_logger(__name__)

PROBE_TIMEOUT_S = 2.0
Detail = dict[str, Any]


@dataclass
class Lifecycle:
    shutdown_delay_s: float
    draining: bool = False


def install(app: FastAPI, settings: Settings) -> None:
    app.state.lifecycle = Lifecycle(shutdown_delay_s=settings.shutdown_delay_s)


@asynccontextmanager
async def drain_on_signal(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan part: put our handler in front of the server's for the life of the app."""
    lifecycle: Lifecycle = app.state.lifecycle
    loop = asyncio.get_running_loop()

    def on_signal(signum: int, frame: FrameType | None, pass_on: signals.PassOn) -> None:
        if lifecycle.draining or lifecycle.shutdown_delay_s <= 0:
            lifecycle.draining = True
            pass_on()
            return
        lifecycle.draining = True
        log.info("draining", signal=signal.Signals(signum).name, delay_s=lifecycle.shutdown_delay_s)
        loop.call_soon_threadsafe(loop.call_later, lifecycle.shutdown_delay_s, pass_on)

    try:
        with signals.in_front(on_signal):
            yield
    finally:
        lifecycle.draining = True


@router.get("/healthz")
async def healthz(_: Anyone) -> dict[str, str]:
    """The process is alive; no dependency is consulted."""
    return {"status": "ok"}


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def _database(db: Database) -> tuple[bool, Detail]:
    # Through the app's own sessions: the probe exercises the pool requests use.
    async with db.sessions() as session:
        connection = await session.connection()
        revision = await connection.run_sync(_revision)
    head = migrations.head_revision()
    detail: Detail = {"revision": revision, "head": head}
    ready = migrations.schema_compatible(revision)
    if not ready:
        detail["error"] = f"database at revision {revision}, code expects {head}: run `ftw migrate`"
    return ready, detail


async def _redis(redis: Redis) -> tuple[bool, Detail]:
    return bool(await redis.ping()), {}


async def _probe(check: Callable[[], Awaitable[tuple[bool, Detail]]]) -> Detail:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            ok, detail = await check()
    except Exception as exc:  # any failure means not ready; say which
        ok, detail = False, {"error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": ok, "ms": round((time.perf_counter() - started) * 1000, 2), **detail}


async def probes(state: Any) -> dict[str, Detail]:
    """The dependency checks of readiness (and of the status page): the database, and Redis
    when one is configured; each with ``ok``, its latency and what failed."""
    checks = {"database": await _probe(lambda: _database(state.db))}
    if state.redis is not None:
        checks["redis"] = await _probe(lambda: _redis(state.redis))
    return checks


async def readiness(request: Request) -> tuple[bool, dict[str, Detail]]:
    """Whether this instance should get traffic, with each probe's result and latency."""
    state = request.app.state
    if state.lifecycle.draining:
        return False, {"draining": {"ok": False}}
    checks = await probes(state)
    return all(check["ok"] for check in checks.values()), checks


@router.get("/readyz", responses={503: {"description": "Not ready: a dependency failed or shutting down"}})
async def readyz(request: Request, _: Anyone) -> JSONResponse:
    """Up or down, nothing more: the probes' details (revisions, errors, latencies) are for
    the logs and the admins' /ops page, not for anyone who asks."""
    ready, checks = await readiness(request)
    if not ready:
        log.warning("not_ready", checks=checks)
    return JSONResponse({"status": "up" if ready else "down"}, status_code=200 if ready else 503)
