"""Notifications: stored for the in-app list, delivered by SMS or e-mail in the background."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.models import User
from ftw.core import tasks
from ftw.messaging.models import Delivery, Notification

DELIVER_TASK = "notifications.deliver"


async def notify(session: AsyncSession, *, user_id: int, kind: str, payload: dict[str, Any]) -> Notification:
    """Store a notification and queue its deliveries in the caller's transaction.

    E-mail always; SMS too when the user has a phone number.
    """
    notification = Notification(user_id=user_id, kind=kind, payload=payload)
    session.add(notification)
    await session.flush()
    phone = await session.scalar(select(User.phone).where(User.id == user_id))
    channels = ["email", "sms"] if phone else ["email"]
    for channel in channels:
        session.add(Delivery(notification_id=notification.id, channel=channel))
        await tasks.enqueue(
            session,
            DELIVER_TASK,
            {"notification_id": notification.id, "channel": channel},
            dedupe_key=f"deliver:{notification.id}:{channel}",
        )
    await session.flush()
    return notification
