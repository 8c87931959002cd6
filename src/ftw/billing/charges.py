"""The one charge primitive: every purchase (an award, a boost, an invoice payment, a county
claim) is charged through ``earlier`` and ``take``.

A ``Charge`` says what is charged, to whom, for which row and where the money goes in the
ledger; ``Terms`` say what the purchase answers when it is not paid, and what it does while
the provider cannot answer (``Down``). The idempotency key derives from the row paid for
(and the client's Idempotency-Key), never at random, so a repeated request or task charges
at most once, and an outcome left unknown is settled by asking the provider under the same
key, never by paying again.

    found = await charges.earlier(session, charge, terms)  # a repeat? a pending charge?
    ...the purchase's own checks...
    payment = await charges.take(session, settings=..., payments=..., charge=charge,
                                 terms=terms, earlier=found)
    ...the purchase's effects (the ledger entries are written)...

A charge held for a background retry (``Down.RETRY``) is tried again by the task its owner
registers under ``RETRY_TASK``, through ``due`` and ``retry``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.billing import ledger
from ftw.billing import payments as charging
from ftw.billing.ledger import Entry
from ftw.billing.models import Account, Payment, PaymentPurpose, PaymentStatus
from ftw.billing.payments import Outcome, PaymentRequired, ProviderDown
from ftw.config import Settings
from ftw.core import tasks
from ftw.core.errors import Conflict
from ftw.integrations.payments import Payments
from ftw.messaging.notifications import notify

RETRY_TASK = "billing.retry_payment"


class Down(Enum):
    """What a purchase does while the provider cannot answer (a timeout too: an outcome unknown)."""

    # 503; the pending payment rolls back with the request, so a repeat is charged under the
    # same key and gets back whatever the provider took.
    REFUSE = "refuse"
    # 503; the pending payment is kept and the next request tries it again under its own key.
    HOLD = "hold"
    # Kept pending and tried again in the background until it settles; 503 once the
    # attempts are spent.
    RETRY = "retry"


@dataclass(frozen=True)
class Booking:
    """Where the money charged goes: card -> ``account`` of ``owner_id``, less the platform's
    ``cut_bps``, in one ledger transaction of ``kind`` (once per payment: uq_ledger_once)."""

    kind: str
    account: Account
    owner_id: int | None = None
    cut_bps: int = 0

    def entries(self, payer_id: int, amount_cents: int) -> list[Entry]:
        cut = amount_cents * self.cut_bps // 10_000
        return [
            Entry(Account.CARD, payer_id, -amount_cents),
            Entry(self.account, self.owner_id, amount_cents - cut),
            Entry(Account.PLATFORM, None, cut),  # dropped when zero
        ]


@dataclass(frozen=True)
class Charge:
    """What is charged (``amount_cents``, of which ``fee_cents`` is the platform's fee), to
    whom, for which row (the ids, by purpose) and where it goes (``booking``)."""

    purpose: PaymentPurpose
    payer_id: int
    amount_cents: int
    fee_cents: int
    payment_method: str
    description: str  # what the provider shows the payer
    booking: Booking
    job_id: int | None = None
    bid_id: int | None = None
    invoice_id: int | None = None
    client_key: str | None = None  # the request's Idempotency-Key

    @property
    def row(self) -> dict[str, int]:
        """The ids of the row paid for, as notifications about the charge carry them."""
        ids = {"job_id": self.job_id, "bid_id": self.bid_id, "invoice_id": self.invoice_id}
        return {name: value for name, value in ids.items() if value is not None}

    def key(self, kept: int) -> str:
        """The provider's idempotency key: the row paid for, then the client's key, or without
        one the number of payments for the row that were ``kept`` (a request retried after its
        transaction was lost reuses the key of the lost charge)."""
        match self.purpose:
            case PaymentPurpose.AWARD:
                base = f"award:{self.job_id}:{self.bid_id}"
            case PaymentPurpose.BOOST:
                base = f"boost:{self.bid_id}"
            case PaymentPurpose.INVOICE:
                base = f"invoice:{self.invoice_id}"
            case PaymentPurpose.CLAIM:  # one county per operator: the operator's claim
                base = f"claim:{self.payer_id}"
        if self.client_key is not None:
            return f"{base}:key-{self.client_key}"
        return f"{base}:attempt-{kept + 1}"

    def same_row(self) -> list[ColumnElement[bool]]:
        """The payments made for the same row (by its payer when it has no id of its own)."""
        ids = [getattr(Payment, name) == value for name, value in self.row.items()]
        return [Payment.purpose == self.purpose, *(ids or [Payment.payer_id == self.payer_id])]


@dataclass(frozen=True)
class Terms:
    """What a purchase answers when it is not paid. ``declined`` (402) and ``down`` (503) are
    problem details, ``{reason}`` the provider's (or, under RETRY, the attempts spent);
    ``field`` the input they name; ``changed`` the 409 when a held charge is for another
    amount than this one (None: the held charge is tried as it is)."""

    when_down: Down
    declined: str
    down: str
    field: str | None = "payment_method"
    changed: str | None = None


async def earlier(session: AsyncSession, charge: Charge, terms: Terms) -> Payment | None:
    """What this purchase already is, in one statement: the pending charge a held or retried
    purchase resumes (locked), else what the client's Idempotency-Key already paid. A key
    whose charge failed is refused as it was (402); a succeeded one is returned: the request
    is a repeat, answered as before by the caller. None: a new charge is to be opened."""
    held = terms.when_down is not Down.REFUSE
    wanted: list[ColumnElement[bool]] = []
    if held:
        wanted.append(and_(*charge.same_row(), Payment.status == PaymentStatus.PENDING))
    if charge.client_key is not None:
        wanted.append(Payment.idempotency_key == charge.key(0))
    if not wanted:
        return None
    query = (
        select(Payment)
        .where(or_(*wanted))
        .order_by((Payment.status == PaymentStatus.PENDING).desc(), Payment.id)
        .limit(1)
    )
    found: Payment | None = await session.scalar(query.with_for_update() if held else query)
    if found is None:
        return None
    if found.status == PaymentStatus.FAILED:
        raise PaymentRequired(found.failure_reason or "This payment failed", field=terms.field)
    if found.status == PaymentStatus.PENDING and found.amount_cents != charge.amount_cents and terms.changed:
        raise Conflict(terms.changed)
    return found


async def take(
    session: AsyncSession,
    *,
    settings: Settings,
    payments: Payments,
    charge: Charge,
    terms: Terms,
    earlier: Payment | None,
) -> Payment:
    """Charge for ``charge`` once: ``earlier`` (what ``earlier`` found: a pending charge) is
    tried again under its own key, else a new payment is opened. Returns the payment,
    succeeded with its ledger entries written, or under ``Down.RETRY`` pending with its
    retry queued. Raises PaymentRequired (402) when declined, the payment kept failed;
    ProviderDown (503) while the provider cannot answer, as ``terms.when_down`` says."""
    assert earlier is None or earlier.status == PaymentStatus.PENDING, "a repeat is answered by its caller"
    payment = earlier or await _open(session, payments, charge)
    outcome = await charging.attempt(
        session, settings=settings, payments=payments, payment=payment, description=charge.description
    )
    if outcome is Outcome.SUCCEEDED:
        await _book(session, charge, payment)
        return payment
    if outcome is Outcome.DECLINED:
        raise PaymentRequired(
            terms.declined.format(reason=payment.failure_reason), field=terms.field, keep_writes=True
        )
    if terms.when_down is Down.RETRY and await _retry_later(session, charge, payment):
        return payment
    raise ProviderDown(
        terms.down.format(reason=payment.failure_reason), keep_writes=terms.when_down is not Down.REFUSE
    )


async def due(session: AsyncSession, *, payment_id: int, attempt: int) -> Payment | None:
    """The pending payment whose background ``attempt`` is due, locked; None when it settled
    or another attempt ran meanwhile. Whether it is still pending is decided by its event
    log, not by a status column that may disagree."""
    payment = await session.scalar(
        select(Payment)
        .where(Payment.id == payment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if payment is None or payment.attempts != attempt:
        return None
    if await charging.reconcile(session, payment) is not PaymentStatus.PENDING:
        return None
    return payment


async def retry(
    session: AsyncSession,
    *,
    settings: Settings,
    payments: Payments,
    payment: Payment,
    charge: Charge,
    stale: str | None,
) -> None:
    """One background attempt of a pending charge (from ``due``); the payer is told when it
    fails. ``stale`` says why the row paid for no longer wants it (the job went to another
    bid): then it is not charged again, but an earlier attempt may have been taken with its
    answer lost, so the provider is asked and what it took is refunded before the payment
    fails."""
    if stale is not None:
        await charging.abandon(session, payments=payments, payment=payment, reason=stale)
    else:
        outcome = await charging.attempt(
            session, settings=settings, payments=payments, payment=payment, description=charge.description
        )
        if outcome is Outcome.SUCCEEDED:
            await _book(session, charge, payment)
        elif outcome is Outcome.DECLINED:
            about = charge.row | {"payment_id": payment.id, "reason": payment.failure_reason}
            await notify(session, user_id=payment.payer_id, kind="payment.failed", payload=about)
        else:
            await _retry_later(session, charge, payment)
    await session.flush()


def retry_dedupe_key(payment: Payment) -> str:
    """One queued retry per payment and attempt (a running task still holds its own key)."""
    return f"retry_payment:{payment.id}:{payment.attempts}"


async def _open(session: AsyncSession, payments: Payments, charge: Charge) -> Payment:
    kept = await session.scalar(select(func.count()).select_from(Payment).where(*charge.same_row()))
    return await charging.open_payment(
        session,
        payer_id=charge.payer_id,
        purpose=charge.purpose,
        amount_cents=charge.amount_cents,
        fee_cents=charge.fee_cents,
        payment_method=charge.payment_method,
        idempotency_key=charge.key(int(kept or 0)),
        provider=payments.name,
        job_id=charge.job_id,
        bid_id=charge.bid_id,
        invoice_id=charge.invoice_id,
    )


async def _book(session: AsyncSession, charge: Charge, payment: Payment) -> None:
    """The ledger entries of a captured charge, for what the payment took (a resumed charge
    may be for an amount the row no longer asks)."""
    await ledger.post(
        session,
        kind=charge.booking.kind,
        entries=charge.booking.entries(payment.payer_id, payment.amount_cents),
        payment_id=payment.id,
        job_id=charge.job_id,
    )


async def _retry_later(session: AsyncSession, charge: Charge, payment: Payment) -> bool:
    """Queue the next attempt of a charge the provider could not take; False once the
    attempts are spent (the payment fails and the payer is told)."""
    delay = charging.retry_delay(payment.attempts)
    about = charge.row | {"payment_id": payment.id, "amount_cents": payment.amount_cents}
    if delay is None:
        charging.fail(
            session,
            payment,
            reason=f"The payments provider could not be reached in {payment.attempts} attempts",
            event="abandoned",
        )
        await notify(session, user_id=payment.payer_id, kind="payment.failed", payload=about)
        return False
    await tasks.enqueue(
        session,
        RETRY_TASK,
        {"payment_id": payment.id, "attempt": payment.attempts},
        delay=delay,
        dedupe_key=retry_dedupe_key(payment),
    )
    if payment.attempts == 1:
        await notify(session, user_id=payment.payer_id, kind="payment.pending", payload=about)
    return True
