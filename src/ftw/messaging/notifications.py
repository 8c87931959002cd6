"""Notifications: stored for the in-app list, delivered by SMS or e-mail in the background."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.models import User
from ftw.core import tasks
from ftw.messaging.models import Delivery, Notification

DELIVER_TASK = "notifications.deliver"
# PostgreSQL NOTIFY channel of new notifications, payload "<user id>:<notification id>"
# (messaging/stream.py listens). A NOTIFY is delivered only when its transaction commits.
CHANNEL = "ftw_notifications"


async def notify(session: AsyncSession, *, user_id: int, kind: str, payload: dict[str, Any]) -> Notification:
    """Store a notification, announce it to live streams and queue its deliveries, all in
    the caller's transaction.

    Only to verified contacts the user wants it on: e-mail when the address was confirmed
    and notify_email holds; SMS when the number was verified, did not answer STOP, and
    notify_sms holds. The in-app list and stream get everything.
    """
    notification = Notification(user_id=user_id, kind=kind, payload=payload)
    session.add(notification)
    await session.flush()
    await session.execute(select(func.pg_notify(CHANNEL, f"{user_id}:{notification.id}")))
    contact = (
        await session.execute(
            select(
                User.email_verified_at.is_not(None) & User.notify_email,
                User.phone_verified_at.is_not(None) & User.sms_opted_out_at.is_(None) & User.notify_sms,
            ).where(User.id == user_id)
        )
    ).one()
    channels = [channel for channel, wanted in zip(("email", "sms"), contact, strict=True) if wanted]
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


# Subject and text per kind; fields come from the notification's payload. A `<name>`
# field missing from the payload is filled from `<name>_cents` as dollars, else left blank.
TEMPLATES: dict[str, tuple[str, str]] = {
    "message.new": ("New message about {job_title}", "{sender_name}: {preview}"),
    "bid.new": ("New bid on your job", "A contractor bid {amount} on your job #{job_id}."),
    "bid.accepted": ("Your bid was accepted", "Your bid of {amount} on job #{job_id} was accepted."),
    "payment.pending": (
        "Payment pending",
        "We could not reach the payment provider yet; the payment for job #{job_id} will be retried.",
    ),
    "payment.failed": ("Payment problem", "The payment for job #{job_id} did not go through. {reason}"),
    "job.cancelled": ("A job was cancelled", "Job #{job_id} was cancelled and its payment refunded."),
    "payout.paid": ("Payout sent", "Your {speed} payout of {amount} is on its way."),
    "invoice.sent": ("Invoice {number}", "You have a new invoice of {total}."),
    "invoice.reminder": ("Invoice {number} is overdue", "Invoice {number} is {days_overdue} days overdue."),
    "review.new": ("New {rating}-star review", "{homeowner_name} reviewed your work on {job_title}."),
    "crm.follow_up": ("{contractor_name} is checking in", "{text}"),
}
FALLBACK = ("FairTradeWorker update", "You have a new notification in FairTradeWorker.")
SMS_MAX = 160


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        cents = self.get(f"{key}_cents")
        return f"${cents / 100:,.2f}" if isinstance(cents, int) else ""


def render(kind: str, payload: dict[str, Any]) -> tuple[str, str]:
    """The subject and text of a notification, for e-mail; ``sms_text`` shortens them."""
    subject, text = TEMPLATES.get(kind, FALLBACK)
    fields = _Fields(payload)
    return subject.format_map(fields).strip(), text.format_map(fields).strip()


def sms_text(subject: str, text: str) -> str:
    body = f"{subject}: {text}"
    return body if len(body) <= SMS_MAX else body[: SMS_MAX - 1] + "…"
