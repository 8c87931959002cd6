"""The audit log: who did what security-relevant thing, when, from which request.

Rows are written in the caller's transaction, so an action and its audit entry commit
or vanish together. A refused action that must stay on record (a failed login) is
recorded before raising a ``DomainError(..., keep_writes=True)``.

Actions are dotted nouns and verbs from a small vocabulary: ``auth.login``,
``auth.login_failed``, ``user.role_changed``, ``payout.requested``, ``admin.<verb>``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import BigInteger, ForeignKey, Identity, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from ftw.core.db import Base


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # NULL for anonymous actors (a failed login) and after the actor's account is deleted.
    actor_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    request_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_log_actor_recent", "actor_id", text("created_at DESC")),
        Index("ix_audit_log_action_recent", "action", text("created_at DESC")),
    )


async def record(
    session: AsyncSession,
    *,
    actor_id: int | None,
    action: str,
    target: str | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to the session's transaction, tagged with the current request id.

    ``target`` names the object acted on (``user:42``, ``payout:7``); ``data`` holds the
    details (old and new role, amount). Never put secrets or passwords in either.
    """
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    entry = AuditEntry(
        actor_id=actor_id, action=action, target=target, data=data or {}, request_id=request_id
    )
    session.add(entry)
    await session.flush()
    return entry
