"""The double-entry ledger: every movement of money is one transaction summing to zero.

Balances are sums of entries. ``reconcile`` (behind ``ftw ledger check``) proves that the
ledger agrees with itself and with the payments and payouts it records.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import ARRAY, ColumnElement, String, any_, bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.billing import payments as charging
from ftw.billing.models import Account, LedgerEntry
from ftw.config import Settings
from ftw.core.db import Database


class Kind:
    """What a ledger transaction records; with its ids, each is written once (uq_ledger_once)."""

    AWARD_CAPTURE = "award_capture"  # card -> escrow(job)
    RELEASE = "release"  # escrow(job) -> contractor, operator, platform
    BOOST = "boost"  # contractor's card -> platform
    INVOICE_PAYMENT = "invoice_payment"  # homeowner's card -> contractor
    PAYOUT = "payout"  # contractor/operator -> bank, platform (instant fee)
    CLAIM = "claim"  # operator's card -> platform (a county's claim price)
    REFUND = "refund"  # escrow(job) -> card: a cancelled or disputed paid job, given back
    PAYOUT_REVERSAL = "payout_reversal"  # a payout the provider never made, given back


class Entry(NamedTuple):
    account: Account
    owner_id: int | None
    amount_cents: int  # signed: + credits the account


class Unbalanced(Exception):
    """A programming error: a transaction whose entries do not sum to zero."""


async def post(
    session: AsyncSession,
    *,
    kind: str,
    entries: Sequence[Entry],
    payment_id: int | None = None,
    job_id: int | None = None,
    payout_id: int | None = None,
) -> uuid.UUID:
    """Write one transaction. Zero entries are dropped; the rest must sum to zero."""
    moving = [e for e in entries if e.amount_cents != 0]
    total = sum(e.amount_cents for e in moving)
    if total != 0 or not moving:
        raise Unbalanced(f"{kind} transaction sums to {total} over {len(moving)} entries")
    txn = uuid.uuid4()
    session.add_all(
        LedgerEntry(
            txn_id=txn,
            account=e.account.value,
            owner_id=e.owner_id,
            amount_cents=e.amount_cents,
            kind=kind,
            payment_id=payment_id,
            job_id=job_id,
            payout_id=payout_id,
        )
        for e in moving
    )
    await session.flush()
    return txn


EARNINGS = (Kind.RELEASE, Kind.INVOICE_PAYMENT)  # credits from card money, which can be charged back


def sums(*, since: datetime | ColumnElement[datetime]) -> tuple[ColumnElement[int], ColumnElement[int]]:
    """An account's balance, and what of it was earned from card money after ``since``."""
    earned = LedgerEntry.kind == any_(_EARNINGS)
    recent = earned & (LedgerEntry.amount_cents > 0) & (LedgerEntry.created_at > since)
    return (
        func.coalesce(func.sum(LedgerEntry.amount_cents), 0),
        func.coalesce(func.sum(LedgerEntry.amount_cents).filter(recent), 0),
    )


# = ANY(array), not IN (...): a compiled Query (core/query.py) cannot expand an IN list.
_EARNINGS = bindparam("earnings", list(EARNINGS), type_=ARRAY(String))


def held(total: int, recent: int) -> int:
    """Recent earnings stay held (a chargeback may still take them back), never more than the balance."""
    return min(recent, max(total, 0))


async def spendable(
    session: AsyncSession, *, account: Account, owner_id: int, since: datetime
) -> tuple[int, int]:
    """(balance, held): the account's balance and the part of it still held, in one statement."""
    row = (
        await session.execute(
            select(*sums(since=since)).where(
                LedgerEntry.account == account.value, LedgerEntry.owner_id == owner_id
            )
        )
    ).one()
    total = int(row[0])
    return total, held(total, int(row[1]))


async def balance(session: AsyncSession, *, account: Account, owner_id: int | None) -> int:
    owner = LedgerEntry.owner_id.is_(None) if owner_id is None else LedgerEntry.owner_id == owner_id
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
            LedgerEntry.account == account.value, owner
        )
    )
    return int(total or 0)


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    ok: bool = True

    def passed(self, line: str) -> None:
        self.lines.append(f"✓ {line}")

    def failed(self, line: str) -> None:
        self.ok = False
        self.lines.append(f"✗ {line}")


_SHOWN = 20  # discrepancies listed per check; the count says how many there are

_UNBALANCED = text(
    "SELECT txn_id, sum(amount_cents) AS total FROM ledger_entries "
    "GROUP BY txn_id HAVING sum(amount_cents) <> 0 ORDER BY txn_id"
)
_NEGATIVE = text(
    "SELECT account, owner_id, sum(amount_cents) AS total FROM ledger_entries "
    "WHERE account IN ('contractor', 'operator', 'escrow') "
    "GROUP BY account, owner_id HAVING sum(amount_cents) < 0 ORDER BY account, owner_id"
)
_PAYMENTS = text(
    "SELECT p.id, p.status, p.amount_cents, "
    "  coalesce(sum(e.amount_cents) FILTER (WHERE e.account = 'card'), 0) AS card, "
    "  count(DISTINCT e.txn_id) AS txns "
    "FROM payments p LEFT JOIN ledger_entries e ON e.payment_id = p.id "
    "GROUP BY p.id "
    # A succeeded payment: one capture from the card, and at most one refund of all of it.
    "HAVING (p.status = 'succeeded' AND (count(DISTINCT e.txn_id) FILTER (WHERE e.kind <> 'refund') <> 1 "
    "        OR coalesce(sum(e.amount_cents) FILTER (WHERE e.account = 'card' AND e.kind <> 'refund'), 0) "
    "           <> -p.amount_cents "
    "        OR coalesce(sum(e.amount_cents) FILTER (WHERE e.account = 'card' AND e.kind = 'refund'), 0) "
    "           NOT IN (0, p.amount_cents))) "
    "    OR (p.status <> 'succeeded' AND count(e.id) > 0) "
    "ORDER BY p.id"
)
_ESCROW = text(
    "SELECT j.id, sum(e.amount_cents) AS held FROM jobs j "
    "JOIN ledger_entries e ON e.account = 'escrow' AND e.owner_id = j.id "
    "WHERE j.status IN ('completed', 'open', 'cancelled') "
    "GROUP BY j.id HAVING sum(e.amount_cents) <> 0 ORDER BY j.id"
)
_PAYOUTS = text(
    "SELECT p.id, p.status, p.amount_cents, p.fee_cents, "
    "  coalesce(sum(e.amount_cents) FILTER (WHERE e.account IN ('contractor', 'operator')), 0) AS debited, "
    "  coalesce(sum(e.amount_cents) FILTER (WHERE e.account = 'bank'), 0) AS banked, "
    "  coalesce(sum(e.amount_cents) FILTER (WHERE e.account = 'platform'), 0) AS fee, "
    "  count(e.id) AS entries "
    "FROM payouts p LEFT JOIN ledger_entries e ON e.payout_id = p.id "
    "GROUP BY p.id "
    "HAVING (p.status IN ('paid', 'unknown') AND ("
    "   coalesce(sum(e.amount_cents) FILTER (WHERE e.account IN ('contractor', 'operator')), 0) "
    "     <> -p.amount_cents "
    "   OR coalesce(sum(e.amount_cents) FILTER (WHERE e.account = 'bank'), 0) "
    "     <> p.amount_cents - p.fee_cents "
    "   OR coalesce(sum(e.amount_cents) FILTER (WHERE e.account = 'platform'), 0) <> p.fee_cents)) "
    "  OR (p.status NOT IN ('paid', 'unknown') AND ("
    "   coalesce(sum(e.amount_cents) FILTER (WHERE e.account IN ('contractor', 'operator')), 0) <> 0 "
    "   OR coalesce(sum(e.amount_cents) FILTER (WHERE e.account = 'bank'), 0) <> 0 "
    "   OR coalesce(sum(e.amount_cents) FILTER (WHERE e.account = 'platform'), 0) <> 0)) "
    "ORDER BY p.id"
)


async def check(session: AsyncSession) -> Report:
    """Run every reconciliation check inside the session's snapshot."""
    report = Report()

    transactions = await session.scalar(select(func.count(func.distinct(LedgerEntry.txn_id)))) or 0
    unbalanced = (await session.execute(_UNBALANCED)).all()
    if unbalanced:
        report.failed(f"{len(unbalanced):,} of {transactions:,} transactions do not sum to zero")
        for row in unbalanced[:_SHOWN]:
            report.failed(f"txn {row.txn_id} sums to {row.total}")
    else:
        report.passed(f"{transactions:,} transactions balance")

    negative = (await session.execute(_NEGATIVE)).all()
    if negative:
        for row in negative[:_SHOWN]:
            report.failed(f"{row.account} account of {row.owner_id} is negative: {row.total}")
    else:
        report.passed("no contractor, operator or escrow balance is negative")

    payments = (await session.execute(_PAYMENTS)).all()
    if payments:
        for row in payments[:_SHOWN]:
            report.failed(
                f"payment {row.id} ({row.status}, {row.amount_cents} cents) has card entries of "
                f"{row.card} in {row.txns} transactions"
            )
    else:
        report.passed("every succeeded payment was captured once, for its amount; no other was")

    disagreeing = await charging.disagreeing(session)
    if disagreeing:
        for row in disagreeing[:_SHOWN]:
            report.failed(f"payment {row.id} is {row.status} but its events say {row.derived}")
    else:
        report.passed("every payment's status is what its events say")

    escrow = (await session.execute(_ESCROW)).all()
    if escrow:
        for row in escrow[:_SHOWN]:
            report.failed(f"job {row.id} is not in progress but escrow holds {row.held}")
    else:
        report.passed("escrow is empty for every job that is not awarded or in progress")

    payouts = (await session.execute(_PAYOUTS)).all()
    if payouts:
        for row in payouts[:_SHOWN]:
            report.failed(
                f"payout {row.id} ({row.status}, {row.amount_cents} cents, fee {row.fee_cents}) has "
                f"debit {row.debited}, bank {row.banked}, fee {row.fee}"
            )
    else:
        # An unknown payout is held as paid until resolved; a failed one was reversed.
        report.passed("every paid (or unknown) payout matches its entries; every other nets to zero")
    return report


async def reconcile(url: str, settings: Settings) -> Report:
    """``check`` on its own connection, in one REPEATABLE READ snapshot of the database."""
    database = Database.connect(url, settings, pool_size=2)
    try:
        async with database.session() as session:
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            return await check(session)
    finally:
        await database.dispose()
