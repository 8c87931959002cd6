"""Money: charges through the payments provider, the double-entry ledger, payouts, invoices.

Amounts are integer cents. Every movement is a ledger transaction whose entries sum to
zero; balances are sums of entries, never a column someone forgets to update.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Identity, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ftw.core.db import Base, Timestamped
from ftw.core.lifecycle import ANYONE, Lifecycle, one_of, status_type


class PaymentStatus(StrEnum):
    PENDING = "pending"  # provider unreachable: on the durable retry queue
    SUCCEEDED = "succeeded"  # funds captured and held in escrow
    FAILED = "failed"  # declined, or retries exhausted


# A payment's status is its event log's conclusion: ``billing.payments.record`` appends an
# event and makes the move the event names (``OUTCOMES``); the others change nothing.
PAYMENT = Lifecycle(
    "a payment",
    PaymentStatus,
    {
        (PaymentStatus.PENDING, PaymentStatus.SUCCEEDED): ANYONE,
        (PaymentStatus.PENDING, PaymentStatus.FAILED): ANYONE,
        # Given up after a timed-out attempt the provider turns out to have taken: refunded
        # at once, then failed (billing.payments.abandon).
        (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED): ANYONE,
    },
)

OUTCOMES = {
    "succeeded": PaymentStatus.SUCCEEDED,
    "declined": PaymentStatus.FAILED,
    "abandoned": PaymentStatus.FAILED,  # the provider unreachable through every retry
    "superseded": PaymentStatus.FAILED,  # no longer wanted (the job went to another bid)
}


class PaymentPurpose(StrEnum):
    AWARD = "award"  # bid amount + platform fee, held until completion
    BOOST = "boost"
    INVOICE = "invoice"
    CLAIM = "claim"  # an operator's claim of a county past the free ones: all platform revenue


class Payment(Timestamped, Base):
    """One charge to a homeowner's (or contractor's) card; state derives from its events."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    payer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    purpose: Mapped[str] = mapped_column(String(16))
    job_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("jobs.id"))
    bid_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("bids.id"))
    invoice_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("invoices.id"))
    amount_cents: Mapped[int] = mapped_column(Integer)
    fee_cents: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    payment_method: Mapped[str] = mapped_column(String(100))
    idempotency_key: Mapped[str] = mapped_column(String(100))
    status: Mapped[PaymentStatus] = mapped_column(
        status_type(PaymentStatus, 16), server_default=PaymentStatus.PENDING.value
    )
    provider: Mapped[str] = mapped_column(String(20))
    provider_ref: Mapped[str | None] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    failure_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(one_of("status", PaymentStatus), name="status"),
        CheckConstraint("purpose IN ('award', 'boost', 'invoice', 'claim')", name="purpose"),
        CheckConstraint("amount_cents > 0", name="amount"),
        Index("uq_payments_idempotency_key", "idempotency_key", unique=True),
        Index("ix_payments_job", "job_id"),
        Index("ix_payments_pending", "created_at", postgresql_where=text("status = 'pending'")),
        Index("ix_payments_payer", "payer_id", text("created_at DESC")),
    )


class PaymentEvent(Base):
    """Append-only log of what happened to a payment (attempts, outcomes)."""

    __tablename__ = "payment_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    payment_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("payments.id"))
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))

    __table_args__ = (Index("ix_payment_events_payment", "payment_id", "id"),)


class Account(StrEnum):
    """Ledger account kinds; ``owner_id`` says whose (a user, a job) where it matters."""

    CARD = "card"  # money from outside: negative as cards are charged
    ESCROW = "escrow"  # held per job until completion (owner: job id)
    CONTRACTOR = "contractor"  # a contractor's withdrawable balance (owner: user id)
    OPERATOR = "operator"  # an operator's share of fees (owner: user id)
    PLATFORM = "platform"  # platform fee revenue
    BANK = "bank"  # money paid out: positive as payouts leave


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    txn_id: Mapped[uuid.UUID]
    account: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[int | None] = mapped_column(BigInteger)
    amount_cents: Mapped[int] = mapped_column(BigInteger)  # signed: + credit to the account
    kind: Mapped[str] = mapped_column(String(32))
    payment_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("payments.id"))
    payout_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("payouts.id"))
    job_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("jobs.id"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))

    __table_args__ = (
        CheckConstraint(
            "account IN ('card', 'escrow', 'contractor', 'operator', 'platform', 'bank')", name="account"
        ),
        CheckConstraint("amount_cents <> 0", name="nonzero"),
        Index("ix_ledger_account_owner", "account", "owner_id"),
        Index("ix_ledger_txn", "txn_id"),
        # A payment's capture and a job's release are recorded once, whatever retries.
        Index(
            "uq_ledger_once",
            "kind",
            "payment_id",
            "job_id",
            "payout_id",
            "account",
            "owner_id",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
    )


class PayoutSpeed(StrEnum):
    STANDARD = "standard"
    INSTANT = "instant"


class PayoutStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    # The provider call timed out or failed without an answer: the money may have left.
    # Held as paid in the ledger until billing.resolve_payout asks the provider.
    UNKNOWN = "unknown"


PAYOUT = Lifecycle(
    "a payout",
    PayoutStatus,
    {
        (PayoutStatus.PENDING, PayoutStatus.PAID): ANYONE,
        (PayoutStatus.PENDING, PayoutStatus.UNKNOWN): ANYONE,  # no answer: billing.resolve_payout asks
        (PayoutStatus.UNKNOWN, PayoutStatus.PAID): ANYONE,  # the provider has the transfer
        (PayoutStatus.UNKNOWN, PayoutStatus.FAILED): ANYONE,  # it has none: the debit is reversed
    },
)


class Payout(Base):
    __tablename__ = "payouts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    amount_cents: Mapped[int] = mapped_column(Integer)
    fee_cents: Mapped[int] = mapped_column(Integer)
    speed: Mapped[str] = mapped_column(String(10))
    status: Mapped[PayoutStatus] = mapped_column(
        status_type(PayoutStatus, 10), server_default=PayoutStatus.PENDING.value
    )
    idempotency_key: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    paid_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("amount_cents > 0 AND fee_cents >= 0 AND fee_cents < amount_cents", name="amounts"),
        CheckConstraint("speed IN ('standard', 'instant')", name="speed"),
        CheckConstraint(one_of("status", PayoutStatus), name="status"),
        Index("uq_payouts_idempotency_key", "user_id", "idempotency_key", unique=True),
        Index("ix_payouts_user_recent", "user_id", text("created_at DESC")),
    )


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    VIEWED = "viewed"
    PARTIALLY_PAID = "partially_paid"
    OVERDUE = "overdue"
    PAID = "paid"
    CANCELLED = "cancelled"


class InvoiceActor(StrEnum):
    CONTRACTOR = "contractor"
    HOMEOWNER = "homeowner"
    SCHEDULER = "scheduler"  # the daily reminders task


_S = InvoiceStatus
_C, _H, _T = {InvoiceActor.CONTRACTOR}, {InvoiceActor.HOMEOWNER}, {InvoiceActor.SCHEDULER}

INVOICE = Lifecycle(
    "an invoice",
    InvoiceStatus,
    {
        (_S.DRAFT, _S.SENT): _C,
        (_S.SENT, _S.VIEWED): _H,  # the homeowner opens it
        (_S.SENT, _S.PARTIALLY_PAID): _H,
        (_S.VIEWED, _S.PARTIALLY_PAID): _H,
        (_S.SENT, _S.PAID): _H,
        (_S.VIEWED, _S.PAID): _H,
        (_S.PARTIALLY_PAID, _S.PAID): _H,
        (_S.OVERDUE, _S.PAID): _H,  # a partial payment leaves an overdue invoice overdue
        (_S.SENT, _S.OVERDUE): _T,
        (_S.VIEWED, _S.OVERDUE): _T,
        (_S.PARTIALLY_PAID, _S.OVERDUE): _T,
        (_S.DRAFT, _S.CANCELLED): _C,  # only while nothing has been paid
        (_S.SENT, _S.CANCELLED): _C,
        (_S.VIEWED, _S.CANCELLED): _C,
        (_S.OVERDUE, _S.CANCELLED): _C,
    },
)

PAYABLE = frozenset({_S.SENT, _S.VIEWED, _S.PARTIALLY_PAID, _S.OVERDUE})


class Invoice(Timestamped, Base):
    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    number: Mapped[str] = mapped_column(String(32))
    contractor_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    homeowner_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    job_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("jobs.id"))
    status: Mapped[InvoiceStatus] = mapped_column(
        status_type(InvoiceStatus, 16), server_default=InvoiceStatus.DRAFT.value
    )
    subtotal_cents: Mapped[int] = mapped_column(Integer)
    tax_rate_bps: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    tax_cents: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    late_fee_cents: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    total_cents: Mapped[int] = mapped_column(Integer)  # subtotal + tax + late fee
    paid_cents: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    notes: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    viewed_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint(one_of("status", InvoiceStatus), name="status"),
        CheckConstraint("paid_cents >= 0 AND paid_cents <= total_cents", name="paid"),
        Index("uq_invoices_number", "contractor_id", "number", unique=True),
        Index("ix_invoices_contractor_status", "contractor_id", "status", text("created_at DESC")),
        Index("ix_invoices_homeowner", "homeowner_id", text("created_at DESC")),
        Index(
            "ix_invoices_overdue",
            "due_at",
            postgresql_where=text("status IN ('sent', 'viewed', 'partially_paid', 'overdue')"),
        ),
        Index("ix_invoices_paid", "contractor_id", "paid_at", postgresql_where=text("status = 'paid'")),
    )


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    invoice_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("invoices.id", ondelete="CASCADE"))
    description: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_cents: Mapped[int] = mapped_column(Integer)
    amount_cents: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint(
            "quantity > 0 AND unit_cents >= 0 AND amount_cents = quantity * unit_cents", name="amount"
        ),
        Index("ix_invoice_lines_invoice", "invoice_id"),
    )


class InvoiceReminder(Base):
    """One row per reminder sent (3, 7, 14 days overdue); the key makes re-runs no-ops."""

    __tablename__ = "invoice_reminders"

    invoice_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("invoices.id"), primary_key=True)
    days_overdue: Mapped[int] = mapped_column(Integer, primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
