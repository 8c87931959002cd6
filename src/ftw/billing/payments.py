"""A payment row and its event log: opened, tried at the provider, failed or given up.

A Payment row exists before the provider is called; the append-only PaymentEvent log
records each attempt and outcome, and the status is the log's conclusion: ``record`` is
the one writer of both, and ``reconcile`` re-derives a status from its log. Purchases do
not call these directly: they charge through ``billing.charges``, which derives each
payment's idempotency key from the row it pays for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import timedelta
from enum import StrEnum
from typing import Any

import structlog
from sqlalchemy import Row, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.models import Role
from ftw.billing.models import OUTCOMES, PAYMENT, Payment, PaymentEvent, PaymentPurpose, PaymentStatus
from ftw.config import Settings
from ftw.core import audit, metrics
from ftw.core.errors import DomainError, Forbidden, NotFound
from ftw.core.security import AccessClaims
from ftw.integrations.payments import PaymentDeclined, Payments, ProviderUnavailable

log = structlog.get_logger(__name__)

# Delay before each automatic retry of a charge the provider could not take; the charge
# fails for good after the attempt that follows the last delay.
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1


class PaymentRequired(DomainError):
    status = 402
    title = "Payment required"


class ProviderDown(DomainError):
    status = 503
    title = "Payments provider unavailable"


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    UNAVAILABLE = "unavailable"


def record(session: AsyncSession, payment: Payment, kind: str, **data: Any) -> None:
    """Append an event to the payment's log and make the move its outcome names, if any."""
    outcome = OUTCOMES.get(kind)
    if outcome is not None:
        PAYMENT.move(payment, outcome)
    session.add(PaymentEvent(payment_id=payment.id, kind=kind, data=data))


def derive(kinds: Iterable[str]) -> PaymentStatus:
    """The status a log of event kinds concludes: pending until an outcome, then the last."""
    status = PaymentStatus.PENDING
    for kind in kinds:
        status = OUTCOMES.get(kind, status)
    return status


async def disagreeing(session: AsyncSession) -> Sequence[Row[Any]]:
    """Every payment whose status is not what its events say: (id, status, derived)."""
    last_outcome = (
        select(case(OUTCOMES, value=PaymentEvent.kind))
        .where(PaymentEvent.payment_id == Payment.id, PaymentEvent.kind.in_(OUTCOMES))
        .order_by(PaymentEvent.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    derived = func.coalesce(last_outcome, PaymentStatus.PENDING.value)
    rows: Sequence[Row[Any]] = (
        await session.execute(
            select(Payment.id, Payment.status, derived.label("derived"))
            .where(Payment.status != derived)
            .order_by(Payment.id)
        )
    ).all()
    return rows


async def reconcile(session: AsyncSession, payment: Payment) -> PaymentStatus:
    """Set the payment's status to what its events say, if it disagrees (a row written
    around ``record``: an import, a hand fix); the correction is logged and audited."""
    kinds = await session.scalars(
        select(PaymentEvent.kind).where(PaymentEvent.payment_id == payment.id).order_by(PaymentEvent.id)
    )
    derived = derive(kinds)
    if payment.status != derived:
        log.warning("payment_reconciled", payment_id=payment.id, was=payment.status, now=derived)
        await audit.record(
            session,
            actor_id=None,
            action="payment.reconciled",
            target=f"payment:{payment.id}",
            data={"was": payment.status, "now": derived},
        )
        payment.status = derived
    return derived


async def open_payment(
    session: AsyncSession,
    *,
    payer_id: int,
    purpose: PaymentPurpose,
    amount_cents: int,
    fee_cents: int,
    payment_method: str,
    idempotency_key: str,
    provider: str,
    job_id: int | None = None,
    bid_id: int | None = None,
    invoice_id: int | None = None,
) -> Payment:
    payment = Payment(
        payer_id=payer_id,
        purpose=purpose.value,
        job_id=job_id,
        bid_id=bid_id,
        invoice_id=invoice_id,
        amount_cents=amount_cents,
        fee_cents=fee_cents,
        payment_method=payment_method,
        idempotency_key=idempotency_key,
        status=PaymentStatus.PENDING,
        provider=provider,
        attempts=0,
    )
    session.add(payment)
    await session.flush()
    record(session, payment, "created", amount_cents=amount_cents, fee_cents=fee_cents)
    return payment


async def attempt(
    session: AsyncSession, *, settings: Settings, payments: Payments, payment: Payment, description: str
) -> Outcome:
    """Call the provider once for ``payment`` and record what happened.

    A timeout counts as the provider being unavailable; the idempotency key makes a later
    attempt return the charge if the provider did take it.
    """
    payment.attempts += 1
    record(session, payment, "attempt", attempt=payment.attempts, payment_method=payment.payment_method)
    try:
        async with asyncio.timeout(settings.breakers.payments.call_timeout_s):
            charge = await payments.charge(
                amount_cents=payment.amount_cents,
                payment_method=payment.payment_method,
                idempotency_key=payment.idempotency_key,
                description=description,
            )
    except PaymentDeclined as declined:
        fail(session, payment, reason=str(declined), event="declined")
        metrics.count("payments", "declined")
        return Outcome.DECLINED
    except (ProviderUnavailable, TimeoutError) as down:
        record(session, payment, "unavailable", reason=str(down) or "timed out")
        metrics.count("payments", "unavailable")
        await session.flush()
        return Outcome.UNAVAILABLE
    payment.provider_ref = charge.reference
    record(session, payment, "succeeded", reference=charge.reference, amount_cents=charge.amount_cents)
    metrics.count("payments", session=session)
    await session.flush()
    return Outcome.SUCCEEDED


async def abandon(session: AsyncSession, *, payments: Payments, payment: Payment, reason: str) -> None:
    """Give up a pending charge that is no longer wanted. If an attempt was made, its outcome
    may be unknown (a timeout): the provider is asked, and a charge it did take is refunded
    (under a key derived from the payment) before the payment is marked failed. Raises
    ProviderUnavailable while the provider cannot answer: the task is retried."""
    if payment.attempts > 0:
        taken = await payments.find_charge(idempotency_key=payment.idempotency_key)
        if taken is not None:
            refund = await payments.refund(
                reference=taken.reference,
                amount_cents=taken.amount_cents,
                idempotency_key=f"refund:{payment.id}",
            )
            payment.provider_ref = taken.reference
            record(session, payment, "succeeded", reference=taken.reference, amount_cents=taken.amount_cents)
            record(session, payment, "refunded", reference=refund, amount_cents=taken.amount_cents)
            reason = f"{reason}; the {taken.amount_cents} cents taken meanwhile were refunded"
    fail(session, payment, reason=reason, event="superseded")


def fail(session: AsyncSession, payment: Payment, *, reason: str, event: str) -> None:
    payment.failure_reason = reason
    record(session, payment, event, reason=reason)


def retry_delay(attempts: int) -> timedelta | None:
    """How long to wait after ``attempts`` failed attempts; None once they are exhausted."""
    return RETRY_DELAYS[attempts - 1] if attempts <= len(RETRY_DELAYS) else None


async def get_own(*, session: AsyncSession, principal: AccessClaims, payment_id: int) -> Payment:
    payment = await session.get(Payment, payment_id)
    if payment is None:
        raise NotFound(f"No payment {payment_id}")
    if payment.payer_id != principal.user_id and principal.role != Role.ADMIN:
        raise Forbidden("Only the payer may see this payment")
    return payment
