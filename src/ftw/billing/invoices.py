"""Invoices: contractors bill the homeowners of jobs they won; homeowners pay, in parts too.

The status machine is declared as data below. Reminders, the overdue mark and the
one-time late fee are applied by a daily task (``remind``) that is safe to run twice:
each reminder and the late fee are InvoiceReminder rows whose primary key admits one.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.models import Role
from ftw.bids.models import Bid, BidStatus
from ftw.billing import charges
from ftw.billing.events import InvoicePaid
from ftw.billing.ledger import Kind
from ftw.billing.models import (
    INVOICE,
    PAYABLE,
    Account,
    Invoice,
    InvoiceActor,
    InvoiceLine,
    InvoiceReminder,
    InvoiceStatus,
    PaymentPurpose,
)
from ftw.billing.payouts import lock_user
from ftw.billing.schemas import InvoiceCreate, InvoiceLineOut, InvoiceOut, InvoiceSummary
from ftw.config import Settings
from ftw.core import events
from ftw.core.errors import Conflict, Forbidden, Invalid, NotFound
from ftw.core.pagination import Keyset, PageParams
from ftw.core.security import AccessClaims
from ftw.integrations.payments import Payments
from ftw.jobs.models import Job
from ftw.messaging.notifications import notify

# The due date of a sent invoice when the contractor gives none.
DEFAULT_DUE = timedelta(days=14)


S = InvoiceStatus


def _bps(amount_cents: int, bps: int) -> int:
    """``bps`` basis points of an amount, rounded half up to the cent."""
    return (amount_cents * bps + 5_000) // 10_000


async def create(
    *, session: AsyncSession, settings: Settings, principal: AccessClaims, data: InvoiceCreate
) -> Invoice:
    if principal.role != Role.CONTRACTOR:
        raise Forbidden("Only contractors invoice")
    job = await session.get(Job, data.job_id)  # billing sits below jobs: the row, not its service
    if job is None:
        raise NotFound(f"No job {data.job_id}")
    won = await session.scalar(
        select(Bid.id).where(
            Bid.job_id == job.id, Bid.contractor_id == principal.user_id, Bid.status == BidStatus.ACCEPTED
        )
    )
    if won is None:
        raise Forbidden("You can invoice only jobs whose bid you won", field="job_id")
    await lock_user(session, principal.user_id)  # numbers are sequential per contractor
    issued = await session.scalar(
        select(func.count()).select_from(Invoice).where(Invoice.contractor_id == principal.user_id)
    )
    subtotal = sum(line.quantity * line.unit_cents for line in data.lines)
    tax = _bps(subtotal, data.tax_rate_bps)
    invoice = Invoice(
        number=f"INV-{(issued or 0) + 1:06d}",
        contractor_id=principal.user_id,
        homeowner_id=job.homeowner_id,
        job_id=job.id,
        status=S.DRAFT.value,
        subtotal_cents=subtotal,
        tax_rate_bps=data.tax_rate_bps,
        tax_cents=tax,
        late_fee_cents=0,
        total_cents=subtotal + tax,
        paid_cents=0,
        notes=data.notes,
    )
    session.add(invoice)
    await session.flush()
    session.add_all(
        InvoiceLine(
            invoice_id=invoice.id,
            description=line.description,
            quantity=line.quantity,
            unit_cents=line.unit_cents,
            amount_cents=line.quantity * line.unit_cents,
        )
        for line in data.lines
    )
    await session.flush()
    await session.refresh(invoice)
    return invoice


async def _get(session: AsyncSession, invoice_id: int, *, for_update: bool = False) -> Invoice:
    query = select(Invoice).where(Invoice.id == invoice_id).execution_options(populate_existing=True)
    if for_update:
        query = query.with_for_update()
    invoice = await session.scalar(query)
    if invoice is None:
        raise NotFound(f"No invoice {invoice_id}")
    return invoice


def _actor(invoice: Invoice, principal: AccessClaims) -> InvoiceActor | None:
    """Who the caller is to this invoice; a homeowner cannot see a draft (404)."""
    if principal.user_id == invoice.contractor_id:
        return InvoiceActor.CONTRACTOR
    if principal.user_id == invoice.homeowner_id:
        if invoice.status == S.DRAFT:
            raise NotFound(f"No invoice {invoice.id}")
        return InvoiceActor.HOMEOWNER
    if principal.role == Role.ADMIN:
        return None
    raise Forbidden("Only the contractor and the homeowner of an invoice may see it")


async def _as(
    session: AsyncSession, principal: AccessClaims, invoice_id: int, actor: InvoiceActor
) -> Invoice:
    """The invoice locked for a change only ``actor`` may make."""
    invoice = await _get(session, invoice_id)
    if _actor(invoice, principal) is not actor:
        raise Forbidden(f"Only the invoice's {actor.value} may do this")
    return await _get(session, invoice_id, for_update=True)


async def lines_of(session: AsyncSession, invoice_id: int) -> list[InvoiceLine]:
    return list(
        await session.scalars(
            select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id).order_by(InvoiceLine.id)
        )
    )


async def present(session: AsyncSession, invoice: Invoice) -> InvoiceOut:
    lines = await lines_of(session, invoice.id)
    return InvoiceOut(
        **InvoiceSummary.model_validate(invoice).model_dump(),
        subtotal_cents=invoice.subtotal_cents,
        tax_rate_bps=invoice.tax_rate_bps,
        tax_cents=invoice.tax_cents,
        late_fee_cents=invoice.late_fee_cents,
        balance_due_cents=invoice.total_cents - invoice.paid_cents,
        notes=invoice.notes,
        sent_at=invoice.sent_at,
        viewed_at=invoice.viewed_at,
        paid_at=invoice.paid_at,
        lines=[InvoiceLineOut.model_validate(line) for line in lines],
    )


async def view(*, session: AsyncSession, principal: AccessClaims, invoice_id: int) -> Invoice:
    """The invoice; the homeowner opening a sent invoice marks it viewed."""
    invoice = await _get(session, invoice_id)
    if _actor(invoice, principal) is InvoiceActor.HOMEOWNER and invoice.status == S.SENT:
        await session.execute(
            update(Invoice)
            # A set-based move: a payment may have won the race.
            .where(Invoice.id == invoice.id, Invoice.status.in_(INVOICE.sources(S.VIEWED)))
            .values(status=S.VIEWED, viewed_at=datetime.now(UTC))
        )
        invoice = await _get(session, invoice_id)
    return invoice


async def send(
    *, session: AsyncSession, principal: AccessClaims, invoice_id: int, due_at: datetime | None
) -> Invoice:
    invoice = await _as(session, principal, invoice_id, InvoiceActor.CONTRACTOR)
    INVOICE.move(invoice, S.SENT, InvoiceActor.CONTRACTOR)
    now = datetime.now(UTC)
    if due_at is not None and due_at <= now:
        raise Invalid("The due date must be in the future", field="due_at")
    invoice.sent_at = now
    invoice.due_at = due_at or now + DEFAULT_DUE
    await notify(
        session,
        user_id=invoice.homeowner_id,
        kind="invoice.sent",
        payload={
            "invoice_id": invoice.id,
            "number": invoice.number,
            "total_cents": invoice.total_cents,
            "due_at": invoice.due_at.isoformat(),
        },
    )
    await session.flush()
    await session.refresh(invoice)
    return invoice


async def cancel(*, session: AsyncSession, principal: AccessClaims, invoice_id: int) -> Invoice:
    invoice = await _as(session, principal, invoice_id, InvoiceActor.CONTRACTOR)
    INVOICE.move(invoice, S.CANCELLED, InvoiceActor.CONTRACTOR)
    if invoice.paid_cents:  # an overdue invoice may be part paid
        raise Conflict("Part of this invoice is paid; it can no longer be cancelled")
    await session.flush()
    await session.refresh(invoice)
    return invoice


PAYING = charges.Terms(
    when_down=charges.Down.REFUSE,
    declined="{reason}; nothing was paid",
    down="The payments provider is not answering; nothing was paid, try again later",
)


async def pay(
    *,
    session: AsyncSession,
    settings: Settings,
    payments: Payments,
    principal: AccessClaims,
    invoice_id: int,
    amount_cents: int,
    payment_method: str,
    client_key: str | None,
) -> Invoice:
    """Charge the homeowner ``amount_cents`` (all or part of what is due) for the invoice."""
    invoice = await _as(session, principal, invoice_id, InvoiceActor.HOMEOWNER)
    charge = charges.Charge(
        purpose=PaymentPurpose.INVOICE,
        payer_id=principal.user_id,
        amount_cents=amount_cents,
        fee_cents=0,
        payment_method=payment_method,
        description=f"Invoice {invoice.number}",
        booking=charges.Booking(
            Kind.INVOICE_PAYMENT, Account.CONTRACTOR, invoice.contractor_id, settings.fees.contractor_fee_bps
        ),
        job_id=invoice.job_id,
        invoice_id=invoice.id,
        client_key=client_key,
    )
    if await charges.earlier(session, charge, PAYING) is not None:  # a repeat of a payment made
        return invoice
    if invoice.status not in PAYABLE:
        raise Conflict(f"An invoice that is {invoice.status} takes no payment")
    due = invoice.total_cents - invoice.paid_cents
    if amount_cents > due:
        raise Invalid(f"At most {due} cents are due on this invoice", field="amount_cents")
    await charges.take(
        session, settings=settings, payments=payments, charge=charge, terms=PAYING, earlier=None
    )
    invoice.paid_cents += amount_cents
    now = datetime.now(UTC)
    if invoice.paid_cents == invoice.total_cents:
        INVOICE.move(invoice, S.PAID, InvoiceActor.HOMEOWNER)
        invoice.paid_at = now
    elif invoice.status != S.OVERDUE:
        INVOICE.move(invoice, S.PARTIALLY_PAID, InvoiceActor.HOMEOWNER)
    await events.publish(
        session,
        InvoicePaid(
            contractor_id=invoice.contractor_id,
            homeowner_id=invoice.homeowner_id,
            amount_cents=amount_cents,
        ),
    )
    await session.flush()
    await session.refresh(invoice)
    return invoice


@functools.cache
def _browse_query(role: str, *, with_status: bool) -> Keyset:
    """A contractor's own invoices, or those addressed to a homeowner; admins see all."""
    query = select(*Invoice.__table__.c[tuple(InvoiceSummary.model_fields)])
    if role == Role.CONTRACTOR:
        query = query.where(Invoice.contractor_id == bindparam("user_id"))
    elif role == Role.HOMEOWNER:
        query = query.where(Invoice.homeowner_id == bindparam("user_id"), Invoice.status != S.DRAFT.value)
    if with_status:
        query = query.where(Invoice.status == bindparam("status"))
    return Keyset(query, Invoice.created_at.desc(), Invoice.id.desc())


async def browse(
    *,
    session: AsyncSession,
    principal: AccessClaims,
    status: InvoiceStatus | None,
    page: PageParams,
) -> tuple[list[InvoiceSummary], str | None]:
    """A contractor's own invoices, or those addressed to a homeowner; admins see all."""
    role = principal.role if principal.role in (Role.CONTRACTOR, Role.HOMEOWNER) else Role.ADMIN
    pages = _browse_query(role, with_status=status is not None)
    values: dict[str, Any] = {"user_id": principal.user_id} if role != Role.ADMIN else {}
    if status is not None:
        values["status"] = status.value
    rows, next_cursor = await pages.page(session, page.cursor, page.limit, **values)
    return [InvoiceSummary.model_validate(dict(row)) for row in rows], next_cursor


async def remind(
    *, session: AsyncSession, settings: Settings, now: datetime, after_id: int, limit: int
) -> int | None:
    """One batch of the daily run over unpaid invoices past due, in id order.

    Marks them overdue, sends the reminder of the latest threshold reached (3, 7, 14 days)
    and applies the one-time late fee at 30 days. Returns the last id handled, or None
    when the batch was the last.
    """
    rules = settings.invoices
    marks = sorted({*rules.reminder_days_overdue, rules.late_fee_after_days})
    batch = list(
        await session.scalars(
            select(Invoice)
            .where(
                Invoice.status.in_([s.value for s in PAYABLE]),
                Invoice.due_at < now,
                Invoice.id > after_id,
            )
            .order_by(Invoice.id)
            .limit(limit)
            .with_for_update()
        )
    )
    for invoice in batch:
        assert invoice.due_at is not None
        if invoice.status != S.OVERDUE:
            INVOICE.move(invoice, S.OVERDUE, InvoiceActor.SCHEDULER)
        days = (now - invoice.due_at).days
        reached = [d for d in marks if d <= days]
        if not reached:
            continue
        new = set(
            await session.scalars(
                insert(InvoiceReminder)
                .values([{"invoice_id": invoice.id, "days_overdue": d} for d in reached])
                .on_conflict_do_nothing()
                .returning(InvoiceReminder.days_overdue)
            )
        )
        if not new:
            continue
        late_fee = 0
        if rules.late_fee_after_days in new and invoice.late_fee_cents == 0:
            late_fee = _bps(invoice.total_cents - invoice.paid_cents, rules.late_fee_bps)
            invoice.late_fee_cents = late_fee
            invoice.total_cents += late_fee
        await notify(
            session,
            user_id=invoice.homeowner_id,
            kind="invoice.reminder",
            payload={
                "invoice_id": invoice.id,
                "number": invoice.number,
                "days_overdue": max(new),
                "balance_due_cents": invoice.total_cents - invoice.paid_cents,
                "late_fee_cents": late_fee,
            },
        )
    await session.flush()
    return batch[-1].id if len(batch) == limit else None
