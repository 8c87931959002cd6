"""Request-scoped dependencies: settings and the database sessions (the vendors' are
``integrations.deps``).

Every dependency is ``async def``: FastAPI runs a plain ``def`` dependency in its thread
pool, a thread hand-off per request and dependency.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Receive, Scope, Send

from ftw.config import Settings
from ftw.core import switches
from ftw.core.db import Database, ReadSession, close_read
from ftw.core.principal import principal
from ftw.core.replicas import RECENT_WRITER, ReadKind

READ_SESSIONS = "ftw.read_sessions"  # the request state's list of open read sessions
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Writes maintenance mode lets through: sessions (so readers stay signed in) and the admin API.
WRITES_IN_MAINTENANCE = (
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
    "/api/v1/auth/logout",
    "/api/v1/admin/",
)


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _user_id(request: Request) -> int | None:
    """The caller's user id, as ``PrincipalMiddleware`` resolved it."""
    claims = principal(request.scope["state"])
    return claims.user_id if claims is not None else None


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent.

    Maintenance mode refuses it to writes (503 with Retry-After), except signing in and out
    and the admin API that turns maintenance off; from the cached switches, so it costs a
    statement at most once per ``switches.ttl_s``.
    """
    db: Database = request.app.state.db
    if request.method not in SAFE_METHODS and not request.scope["path"].startswith(WRITES_IN_MAINTENANCE):
        await switches.board(request).refuse_writes(db)
    async with db.session() as session:
        yield session
    if request.method not in SAFE_METHODS and (user_id := _user_id(request)) is not None:
        db.wrote(user_id)


async def _read(request: Request, kind: ReadKind) -> ReadSession:
    """A read session closed by ``ReadSessions`` once the request is answered.

    Not a ``yield`` dependency: FastAPI wraps each of those in an exit stack and a shielded
    cancel scope, a tenth of the CPU of a hot read; a read session has nothing to commit, so
    closing it after the answer (or the error) is all it needs.
    """
    db: Database = request.app.state.db
    state = request.scope["state"]
    recent_writer = state.get(RECENT_WRITER, False)
    session = await db.open_read(kind, user_id=_user_id(request), recent_writer=recent_writer)
    state.setdefault(READ_SESSIONS, []).append(session)
    return session


async def get_read_session(request: Request) -> ReadSession:
    """Browse and search: replica set 1 (the primary for a caller who just wrote)."""
    return await _read(request, ReadKind.BROWSE)


async def get_analytics_session(request: Request) -> ReadSession:
    """Analytics: replica set 2, so long reports never slow browsing down."""
    return await _read(request, ReadKind.ANALYTICS)


async def get_own_read_session(request: Request) -> ReadSession:
    """The caller's own records (profile, bids, invoices, messages): read-only, on the primary,
    so a user always reads what it just wrote."""
    return await _read(request, ReadKind.OWN)


class ReadSessions:
    """Closes the read sessions a request opened, once it is answered or has failed. Pure
    ASGI, and no wrapper around ``send``: a streamed answer passes through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            for session in reversed(scope.get("state", {}).pop(READ_SESSIONS, ())):
                await close_read(session)


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
# scope="function": commit (or roll back) before the response leaves, so a failed
# commit is reported to the caller instead of after a 2xx was sent.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[ReadSession, Depends(get_read_session)]
OwnReadSessionDep = Annotated[ReadSession, Depends(get_own_read_session)]
AnalyticsSession = Annotated[ReadSession, Depends(get_analytics_session)]
