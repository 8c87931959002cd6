"""Balances and payouts of contractors and operators.

A payout locks its user's row (FOR NO KEY UPDATE) before reading the balance, so two
payouts of one user run one after the other and can never take the balance below zero;
everything else only credits these accounts.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    ARRAY,
    BigInteger,
    DateTime,
    Integer,
    ScalarSelect,
    String,
    any_,
    bindparam,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.models import Role, User
from ftw.bids.models import Bid, BidStatus
from ftw.billing import ledger
from ftw.billing.ledger import Entry, Kind
from ftw.billing.models import (
    PAYOUT,
    Account,
    LedgerEntry,
    Payment,
    PaymentPurpose,
    PaymentStatus,
    Payout,
    PayoutSpeed,
    PayoutStatus,
)
from ftw.billing.payments import ProviderDown
from ftw.billing.schemas import BalanceOut, PayoutAccountOut, PayoutOut
from ftw.config import FeePolicy, Settings
from ftw.core import audit, metrics, tasks
from ftw.core.errors import Conflict, Forbidden, Invalid
from ftw.core.pagination import Keyset, PageParams
from ftw.core.query import Query
from ftw.core.security import AccessClaims
from ftw.integrations.payments import PaymentDeclined, Payments, ProviderUnavailable
from ftw.jobs.models import Job, JobStatus
from ftw.messaging.notifications import notify
from ftw.territories.models import Territory

_HELD = (JobStatus.AWARDED.value, JobStatus.IN_PROGRESS.value)
RESOLVE_TASK = "billing.resolve_payout"
RESOLVE_AFTER = timedelta(minutes=1)  # Stripe lists a transfer at once; give a slow answer time


def account_of(principal: AccessClaims) -> Account:
    if principal.role == Role.CONTRACTOR:
        return Account.CONTRACTOR
    if principal.role == Role.OPERATOR:
        return Account.OPERATOR
    raise Forbidden("Only contractors and operators have a balance")


def fee_for(amount_cents: int, speed: PayoutSpeed, fees: FeePolicy) -> int:
    """Instant: 1 % capped at $5; standard: free (both from the fee policy)."""
    if speed is PayoutSpeed.INSTANT:
        return min(amount_cents * fees.instant_payout_bps // 10_000, fees.instant_payout_cap_cents)
    return fees.standard_payout_cents


def _balance(pending: ScalarSelect[int]) -> Query:
    """The ledger's sums for one account and what escrow will release to it, in one statement."""
    total, recent = ledger.sums(since=bindparam("since", type_=DateTime(timezone=True)))
    return Query(
        select(total.label("total"), recent.label("recent"), pending.label("pending")).where(
            LedgerEntry.account == bindparam("account"), LedgerEntry.owner_id == _OWNER
        )
    )


_OWNER = bindparam("owner_id", type_=BigInteger)
_HELD_JOB = Job.status == any_(bindparam("held", list(_HELD), type_=ARRAY(String)))
_SHARE_BPS = bindparam("share_bps", type_=Integer)
_BALANCE = {
    Account.CONTRACTOR: _balance(
        select(func.coalesce(func.sum(Bid.amount_cents - Bid.amount_cents * _SHARE_BPS // 10_000), 0))
        .join(Job, Job.id == Bid.job_id)
        .where(Bid.contractor_id == _OWNER, Bid.status == BidStatus.ACCEPTED.value, _HELD_JOB)
        .scalar_subquery()
    ),
    Account.OPERATOR: _balance(
        select(func.coalesce(func.sum(Payment.fee_cents * _SHARE_BPS // 10_000), 0))
        .join(Job, Job.id == Payment.job_id)
        .join(Territory, Territory.fips == Job.territory_fips)
        .where(
            Territory.operator_id == _OWNER,
            Payment.purpose == PaymentPurpose.AWARD.value,
            Payment.status == PaymentStatus.SUCCEEDED.value,
            _HELD_JOB,
        )
        .scalar_subquery()
    ),
}


async def balance(*, session: AsyncSession, settings: Settings, principal: AccessClaims) -> BalanceOut:
    """Available: the ledger account. Pending: what escrow will release to it on completion
    (the bid less the contractor's fee; the operator's share of the platform fee)."""
    account = account_of(principal)
    fees = settings.fees
    row = await _BALANCE[account].row(
        session,
        account=account.value,
        owner_id=principal.user_id,
        since=_hold_start(settings),
        share_bps=fees.contractor_fee_bps if account is Account.CONTRACTOR else fees.operator_share_bps,
    )
    assert row is not None  # an aggregate always answers one row
    total = int(row["total"])
    held = ledger.held(total, int(row["recent"]))
    return BalanceOut(available_cents=total - held, pending_cents=int(row["pending"]), held_cents=held)


def _hold_start(settings: Settings) -> datetime:
    return datetime.now(UTC) - timedelta(days=settings.payouts.hold_days)


async def destination(session: AsyncSession, user_id: int) -> str | None:
    """Where the user's payouts go: its connected account (None until it is opened)."""
    return await session.scalar(select(User.payout_account).where(User.id == user_id))


async def lock_user(session: AsyncSession, user_id: int) -> None:
    """Serialise a user's balance-spending writes (NO KEY: foreign keys to the user still insert)."""
    await session.execute(select(User.id).where(User.id == user_id).with_for_update(key_share=True))


async def request(
    *,
    session: AsyncSession,
    settings: Settings,
    payments: Payments,
    principal: AccessClaims,
    amount_cents: int,
    speed: PayoutSpeed,
    client_key: str | None,
) -> tuple[Payout, bool]:
    """Pay ``amount_cents`` of the balance out (less the speed's fee). Returns (payout, created).

    Repeating a request with the same Idempotency-Key returns the first payout.
    """
    account = account_of(principal)
    user_id = principal.user_id
    # Locks the user's row as lock_user does, reading where its payouts go on the way.
    destination = await session.scalar(
        select(User.payout_account).where(User.id == user_id).with_for_update(key_share=True)
    )
    if destination is None:
        raise Conflict("Open your payout account first: POST /api/v1/payouts/account", field="payout_account")
    if client_key is not None:
        earlier = await session.scalar(
            select(Payout).where(Payout.user_id == user_id, Payout.idempotency_key == client_key)
        )
        if earlier is not None:
            if (earlier.amount_cents, earlier.speed) != (amount_cents, speed.value):
                raise Conflict("This Idempotency-Key was used for another payout", field="Idempotency-Key")
            return earlier, False
    fee = fee_for(amount_cents, speed, settings.fees)
    if fee >= amount_cents:
        raise Invalid(f"A {speed.value} payout must be more than its {fee} cents fee", field="amount_cents")
    total, held = await ledger.spendable(
        session, account=account, owner_id=user_id, since=_hold_start(settings)
    )
    available = total - held
    if amount_cents > available:
        waiting = (
            f" (${held / 100:,.2f} more after the {settings.payouts.hold_days}-day hold)" if held else ""
        )
        raise Conflict(
            f"Your available balance is ${available / 100:,.2f}{waiting}; you cannot pay out more",
            field="amount_cents",
        )
    payout = Payout(
        user_id=user_id,
        amount_cents=amount_cents,
        fee_cents=fee,
        speed=speed.value,
        status=PayoutStatus.PENDING,
        # The client's name for this request (a repeat returns this payout); without one,
        # each request is its own. The provider's key is the row's (provider_key).
        idempotency_key=client_key or uuid.uuid4().hex,
    )
    session.add(payout)
    await session.flush()
    # Debited before the provider is called: while the outcome is unknown the money is
    # treated as gone, so it cannot be paid out a second time.
    await ledger.post(
        session,
        kind=Kind.PAYOUT,
        entries=[
            Entry(account, user_id, -amount_cents),
            Entry(Account.BANK, user_id, amount_cents - fee),
            Entry(Account.PLATFORM, None, fee),
        ],
        payout_id=payout.id,
    )
    try:
        async with asyncio.timeout(settings.breakers.payments.call_timeout_s):
            await payments.payout(
                amount_cents=amount_cents - fee,
                destination=destination,
                idempotency_key=provider_key(payout),
            )
    except PaymentDeclined as refused:  # answered: nothing was sent, the debit rolls back
        raise Conflict(f"The payments provider refused the payout: {refused}") from refused
    except (ProviderUnavailable, TimeoutError) as exc:
        # Never retried under another key: the resolver asks the provider what happened.
        PAYOUT.move(payout, PayoutStatus.UNKNOWN)
        metrics.count("payouts", "unknown")
        await audit.record(
            session,
            actor_id=user_id,
            action="payout.outcome_unknown",
            target=f"payout:{payout.id}",
            data={"amount_cents": amount_cents, "error": str(exc) or "timed out"},
        )
        await tasks.enqueue(
            session,
            RESOLVE_TASK,
            {"payout_id": payout.id},
            delay=RESOLVE_AFTER,
            dedupe_key=f"resolve:{payout.id}",
        )
        await session.flush()
        await session.refresh(payout)
        return payout, True
    await _paid(session, payout)
    await audit.record(
        session,
        actor_id=user_id,
        action="payout.requested",
        target=f"payout:{payout.id}",
        data={"amount_cents": amount_cents, "fee_cents": fee, "speed": speed.value},
    )
    metrics.count("payouts", session=session)
    await session.flush()
    await session.refresh(payout)
    return payout, True


async def open_account(
    *, session: AsyncSession, settings: Settings, payments: Payments, principal: AccessClaims
) -> PayoutAccountOut:
    """The caller's connected payout account, opened with the provider on first call (under
    a key derived from the user, so a retry opens no second one), and its onboarding link."""
    account_of(principal)
    user = await session.scalar(select(User).where(User.id == principal.user_id).with_for_update())
    assert user is not None  # the caller's own row
    return_url = settings.public_url.rstrip("/") + "/payouts/account"
    try:
        opened = await payments.open_account(
            email=user.email, idempotency_key=f"payout-account:{user.id}", return_url=return_url
        )
    except ProviderUnavailable as exc:
        raise ProviderDown("The payments provider is not answering; try again in a few minutes") from exc
    if user.payout_account is None:
        user.payout_account = opened.account_id
        await audit.record(
            session, actor_id=user.id, action="payout.account_opened", target=f"user:{user.id}"
        )
    return PayoutAccountOut(account_id=user.payout_account, onboarding_url=opened.onboarding_url)


def provider_key(payout: Payout) -> str:
    """The provider's idempotency key of a payout: derived from its row, never random, so
    every call about this payout names the same transfer."""
    return f"payout:{payout.id}"


async def _paid(session: AsyncSession, payout: Payout) -> None:
    PAYOUT.move(payout, PayoutStatus.PAID)
    payout.paid_at = datetime.now(UTC)
    await notify(
        session,
        user_id=payout.user_id,
        kind="payout.paid",
        payload={
            "payout_id": payout.id,
            "amount_cents": payout.amount_cents,
            "fee_cents": payout.fee_cents,
            "speed": payout.speed,
        },
    )


async def resolve(*, session: AsyncSession, payments: Payments, payout_id: int) -> PayoutStatus:
    """Settle a payout whose outcome was unknown by asking the provider (never by paying):
    found, it is paid; not found, it failed and its ledger debit is reversed. Raises
    ProviderUnavailable while the provider still does not answer (the queue retries)."""
    payout = await session.scalar(select(Payout).where(Payout.id == payout_id).with_for_update())
    if payout is None or payout.status != PayoutStatus.UNKNOWN:
        return PayoutStatus(payout.status) if payout is not None else PayoutStatus.FAILED
    reference = await payments.find_payout(idempotency_key=provider_key(payout))
    if reference is not None:
        await _paid(session, payout)
        await audit.record(
            session, actor_id=None, action="payout.resolved_paid", target=f"payout:{payout.id}"
        )
        return PayoutStatus.PAID
    PAYOUT.move(payout, PayoutStatus.FAILED)
    debit = await session.scalars(
        select(LedgerEntry).where(LedgerEntry.payout_id == payout.id, LedgerEntry.kind == Kind.PAYOUT)
    )
    await ledger.post(
        session,
        kind=Kind.PAYOUT_REVERSAL,
        entries=[Entry(Account(e.account), e.owner_id, -e.amount_cents) for e in debit],
        payout_id=payout.id,
    )
    await audit.record(session, actor_id=None, action="payout.resolved_failed", target=f"payout:{payout.id}")
    return PayoutStatus.FAILED


_HISTORY = Keyset(
    select(*Payout.__table__.c[tuple(PayoutOut.model_fields)]).where(Payout.user_id == bindparam("user_id")),
    Payout.created_at.desc(),
    Payout.id.desc(),
)


async def history(
    *, session: AsyncSession, user_id: int, page: PageParams
) -> tuple[list[PayoutOut], str | None]:
    """The user's payouts, newest first."""
    rows, next_cursor = await _HISTORY.page(session, page.cursor, page.limit, user_id=user_id)
    return [PayoutOut.model_validate(dict(row)) for row in rows], next_cursor
