"""Background work of messaging: sending notifications by e-mail and SMS."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.models import User
from ftw.accounts.service import unsubscribe_link
from ftw.core.switches import Name
from ftw.integrations.context import Handler, TaskContext
from ftw.integrations.messages import DeliveryFailed
from ftw.messaging.models import DELIVERY, Delivery, DeliveryStatus, Notification
from ftw.messaging.notifications import DELIVER_TASK, render, sms_text

log = structlog.get_logger(__name__)


def unsubscribe_headers(link: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe: the mail client POSTs ``List-Unsubscribe=One-Click``
    to the link (RFC 2369's header) without opening it."""
    return {"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


# A delivery is given up (status failed) after this many refused sends; the worker's
# retry policy spaces them out and must allow at least as many runs.
DELIVERY_ATTEMPTS = 5


async def _attempt(
    session: AsyncSession, context: TaskContext, *, notification_id: int, channel: str
) -> DeliveryFailed | None:
    """Send one delivery unless it already went out; returns a failure worth retrying.

    The row stays locked while the provider is called, so a second worker running the
    same delivery waits, then finds it sent and skips it.
    """
    row = (
        await session.execute(
            select(
                Delivery,
                Notification.kind,
                Notification.payload,
                User.id.label("user_id"),
                User.email,
                User.notify_email,
                User.phone,
                User.sms_opted_out_at,
            )
            .join(Notification, Notification.id == Delivery.notification_id)
            .join(User, User.id == Notification.user_id)
            .where(Delivery.notification_id == notification_id, Delivery.channel == channel)
            .with_for_update(of=Delivery)
        )
    ).first()
    if row is None or row.Delivery.status != DeliveryStatus.PENDING:
        return None
    delivery = row.Delivery
    if not await context.switches.is_on(context.db, Name(channel)):
        # Switched off in an incident: not sent later either (it would arrive out of date);
        # the notification itself stays in the app.
        _give_up(delivery, f"not sent: {channel} switched off by an admin")
        return None
    delivery.attempts += 1
    integrations = context.integrations
    subject, text = render(row.kind, row.payload)
    try:
        if channel == "sms":
            if not row.phone:
                _give_up(delivery, "The user has no phone number")
                return None
            if row.sms_opted_out_at is not None:  # answered STOP after this was queued
                _give_up(delivery, "The number opted out (STOP)")
                return None
            reference = await integrations.sms.send(to=row.phone, body=sms_text(subject, text))
        else:
            if not row.notify_email:  # unsubscribed after this was queued
                delivery.status, delivery.last_error = "failed", "The user unsubscribed from e-mails"
                return None
            link = unsubscribe_link(context.settings, row.user_id)
            reference = await integrations.email.send(
                to=row.email,
                subject=subject,
                body=f"{text}\n\nStop these e-mails with one click: {link}",
                headers=unsubscribe_headers(link),
            )
    except DeliveryFailed as failure:
        if delivery.attempts >= DELIVERY_ATTEMPTS:
            _give_up(delivery, str(failure))
            log.warning("delivery_failed", notification_id=notification_id, channel=channel)
            return None
        delivery.last_error = str(failure)[:1_000]
        return failure
    DELIVERY.move(delivery, DeliveryStatus.SENT)
    delivery.provider_ref, delivery.sent_at, delivery.last_error = reference, func.now(), None
    return None


def _give_up(delivery: Delivery, reason: str) -> None:
    DELIVERY.move(delivery, DeliveryStatus.FAILED)
    delivery.last_error = reason[:1_000]


async def deliver(context: TaskContext, payload: dict[str, Any]) -> None:
    """``notifications.deliver``: the attempt is recorded even when it failed, then retried."""
    async with context.db.session() as session:
        failure = await _attempt(
            session,
            context,
            notification_id=int(payload["notification_id"]),
            channel=str(payload["channel"]),
        )
    if failure is not None:
        raise failure


TASKS: dict[str, Handler] = {DELIVER_TASK: deliver}
SCHEDULES: list[tuple[str, str]] = []
