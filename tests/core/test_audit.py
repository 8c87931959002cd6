"""The audit log: entries commit or vanish with the action, tagged with the request id."""

from __future__ import annotations

import pytest
import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.core import audit
from ftw.core.audit import AuditEntry
from ftw.core.db import Database
from tests.conftest import SignUp


async def test_an_entry_records_actor_action_target_data_and_request_id(
    sign_up: SignUp, session: AsyncSession
) -> None:
    admin = await sign_up("homeowner")
    structlog.contextvars.bind_contextvars(request_id="req-123")
    try:
        entry = await audit.record(
            session,
            actor_id=admin.id,
            action="user.role_changed",
            target="user:42",
            data={"from": "contractor", "to": "operator"},
        )
    finally:
        structlog.contextvars.clear_contextvars()
    stored = await session.get(AuditEntry, entry.id)
    assert stored is not None
    assert (stored.actor_id, stored.action, stored.target) == (admin.id, "user.role_changed", "user:42")
    assert stored.data == {"from": "contractor", "to": "operator"}
    assert stored.request_id == "req-123"
    assert stored.created_at is not None


async def test_an_anonymous_actor_is_allowed(session: AsyncSession) -> None:
    entry = await audit.record(
        session, actor_id=None, action="auth.login_failed", data={"email": "x@example.com"}
    )
    assert entry.id is not None
    assert entry.request_id is None


async def test_entries_vanish_with_a_rolled_back_action(database: Database, session: AsyncSession) -> None:
    async def failing_action() -> None:
        async with database.session() as s:
            await audit.record(s, actor_id=None, action="admin.refund")
            raise RuntimeError("the action failed")

    with pytest.raises(RuntimeError):
        await failing_action()
    assert await session.scalar(select(func.count()).select_from(AuditEntry)) == 0
