"""Background work of billing; every handler is safe to run twice.

billing.resolve_payout           ask the provider whether a payout whose call timed out was made
billing.sweep_pending_payments   re-queue the retry of any pending charge whose task was lost
billing.invoice_reminders        daily: overdue marks, reminders, the one-time late fee
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from ftw.billing import charges, invoices, payouts
from ftw.billing.models import Payment, PaymentPurpose, PaymentStatus
from ftw.core import tasks
from ftw.integrations.context import Handler, TaskContext

_BATCH = 500


async def resolve_payout(ctx: TaskContext, payload: dict[str, Any]) -> None:
    async with ctx.db.session() as session:
        await payouts.resolve(
            session=session, payments=ctx.integrations.payments, payout_id=int(payload["payout_id"])
        )


async def sweep_pending_payments(ctx: TaskContext, payload: dict[str, Any]) -> None:
    """Queue the due retry (``bids.tasks``) of every pending award charge; the dedupe key skips
    queued ones."""
    after = 0
    while True:
        async with ctx.db.session() as session:
            pending = list(
                await session.scalars(
                    select(Payment)
                    .where(
                        Payment.status == PaymentStatus.PENDING,
                        Payment.purpose == PaymentPurpose.AWARD,
                        Payment.id > after,
                    )
                    .order_by(Payment.id)
                    .limit(_BATCH)
                )
            )
            for payment in pending:
                await tasks.enqueue(
                    session,
                    charges.RETRY_TASK,
                    {"payment_id": payment.id, "attempt": payment.attempts},
                    dedupe_key=charges.retry_dedupe_key(payment),
                )
        if len(pending) < _BATCH:
            return
        after = pending[-1].id


async def invoice_reminders(ctx: TaskContext, payload: dict[str, Any]) -> None:
    now = datetime.now(UTC)
    after: int | None = 0
    while after is not None:
        async with ctx.db.session() as session:
            after = await invoices.remind(
                session=session, settings=ctx.settings, now=now, after_id=after, limit=_BATCH
            )


TASKS: dict[str, Handler] = {
    payouts.RESOLVE_TASK: resolve_payout,
    "billing.sweep_pending_payments": sweep_pending_payments,
    "billing.invoice_reminders": invoice_reminders,
}

SCHEDULES: list[tuple[str, str]] = [
    ("*/10 * * * *", "billing.sweep_pending_payments"),
    ("0 14 * * *", "billing.invoice_reminders"),  # daily, 14:00 UTC: morning across US time zones
]
