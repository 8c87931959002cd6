"""Balances and payouts of contractors and operators.

A payout locks its user's row (FOR NO KEY UPDATE) before reading the balance, so two
payouts of one user run one after the other and can never take the balance below zero;
everything else only credits these accounts.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.models import Role, User
from ftw.bids.models import Bid, BidStatus
from ftw.billing import ledger, paging
from ftw.billing.ledger import Entry, Kind
from ftw.billing.models import (
    Account,
    Payment,
    PaymentPurpose,
    PaymentStatus,
    Payout,
    PayoutSpeed,
    PayoutStatus,
)
from ftw.billing.payments import ProviderDown
from ftw.billing.schemas import BalanceOut, PayoutOut
from ftw.config import FeePolicy, Settings
from ftw.core import audit, metrics
from ftw.core.errors import Conflict, Forbidden, Invalid
from ftw.core.security import AccessClaims
from ftw.integrations.payments import Payments, ProviderUnavailable
from ftw.jobs.models import Job, JobStatus
from ftw.messaging.notifications import notify
from ftw.territories.models import Territory

_HELD = (JobStatus.AWARDED.value, JobStatus.IN_PROGRESS.value)


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


async def balance(*, session: AsyncSession, settings: Settings, principal: AccessClaims) -> BalanceOut:
    """Available: the ledger account. Pending: what escrow will release to it on completion."""
    account = account_of(principal)
    fees = settings.fees
    available = await ledger.balance(session, account=account, owner_id=principal.user_id)
    if account is Account.CONTRACTOR:
        share = Bid.amount_cents - Bid.amount_cents * fees.contractor_fee_bps // 10_000
        pending = await session.scalar(
            select(func.coalesce(func.sum(share), 0))
            .join(Job, Job.id == Bid.job_id)
            .where(
                Bid.contractor_id == principal.user_id,
                Bid.status == BidStatus.ACCEPTED,
                Job.status.in_(_HELD),
            )
        )
    else:
        pending = await session.scalar(
            select(func.coalesce(func.sum(Payment.fee_cents * fees.operator_share_bps // 10_000), 0))
            .join(Job, Job.id == Payment.job_id)
            .join(Territory, Territory.fips == Job.territory_fips)
            .where(
                Territory.operator_id == principal.user_id,
                Payment.purpose == PaymentPurpose.AWARD,
                Payment.status == PaymentStatus.SUCCEEDED,
                Job.status.in_(_HELD),
            )
        )
    return BalanceOut(available_cents=available, pending_cents=int(pending or 0))


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
    await lock_user(session, user_id)
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
    available = await ledger.balance(session, account=account, owner_id=user_id)
    if amount_cents > available:
        raise Conflict(
            f"Your available balance is ${available / 100:,.2f}; you cannot pay out more",
            field="amount_cents",
        )
    key = client_key or uuid.uuid4().hex
    payout = Payout(
        user_id=user_id,
        amount_cents=amount_cents,
        fee_cents=fee,
        speed=speed.value,
        status=PayoutStatus.PENDING.value,
        idempotency_key=key,
    )
    session.add(payout)
    await session.flush()
    try:
        async with asyncio.timeout(settings.breakers.payments.call_timeout_s):
            await payments.payout(
                amount_cents=amount_cents - fee,
                destination=f"user:{user_id}",
                idempotency_key=f"payout:{user_id}:{key}",
            )
    except (ProviderUnavailable, TimeoutError) as exc:
        metrics.count("payouts", "unavailable")
        raise ProviderDown("The payments provider is not answering; try again in a few minutes") from exc
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
    payout.status = PayoutStatus.PAID.value
    payout.paid_at = datetime.now(UTC)
    await audit.record(
        session,
        actor_id=user_id,
        action="payout.requested",
        target=f"payout:{payout.id}",
        data={"amount_cents": amount_cents, "fee_cents": fee, "speed": speed.value},
    )
    metrics.count("payouts", session=session)
    await notify(
        session,
        user_id=user_id,
        kind="payout.paid",
        payload={
            "payout_id": payout.id,
            "amount_cents": amount_cents,
            "fee_cents": fee,
            "speed": speed.value,
        },
    )
    await session.flush()
    await session.refresh(payout)
    return payout, True


_HISTORY = paging.NewestFirst(
    select(*Payout.__table__.c[tuple(PayoutOut.model_fields)]).where(Payout.user_id == bindparam("user_id")),
    created=Payout.created_at,
    ident=Payout.id,
)


async def history(
    *, session: AsyncSession, user_id: int, cursor: str | None, limit: int
) -> tuple[list[PayoutOut], str | None]:
    rows, next_cursor = await _HISTORY.page(session, cursor=cursor, limit=limit, user_id=user_id)
    return [PayoutOut.model_validate(dict(row)) for row in rows], next_cursor
