"""Award and pay: the flow from an accepted bid to money in the contractor's balance.

accept   the homeowner accepts a bid: bid + platform fee is charged and held in escrow, the
         job becomes awarded, the other bids are rejected: one transaction under a lock
         on the job row, so two tabs or a doubled request award once and charge once.
retry    a charge the provider could not take is retried by a background task with the
         same idempotency key, and completes the award the same way, or fails.
start    the winning contractor starts the work.
complete the homeowner confirms the work: escrow is released to the contractor, the
         territory's operator (its share of the fee) and the platform.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.models import Role
from ftw.bids import service as bids
from ftw.bids.models import BID, Bid, BidStatus
from ftw.billing import charges, ledger
from ftw.billing import payments as charging
from ftw.billing.ledger import Entry, Kind
from ftw.billing.models import Account, Payment, PaymentPurpose, PaymentStatus
from ftw.billing.payments import ProviderDown
from ftw.config import Settings
from ftw.core import audit
from ftw.core.errors import Conflict, Forbidden
from ftw.core.security import AccessClaims
from ftw.crm import service as crm
from ftw.integrations.payments import Payments, ProviderUnavailable
from ftw.jobs import service as jobs
from ftw.jobs.models import JOB, Job, JobStatus
from ftw.messaging.notifications import notify
from ftw.reviews import service as reviews
from ftw.territories.models import Territory

AWARD = charges.Terms(
    when_down=charges.Down.RETRY,
    declined="{reason}. The job stays open and the bid pending: accept it again with another payment method",
    down="{reason}. The job stays open; accept the bid again later",
)


@dataclass(frozen=True)
class Award:
    status: Literal["awarded", "pending"]
    job_id: int
    bid_id: int
    payment: Payment


async def _payment_of(session: AsyncSession, bid: Bid, status: PaymentStatus) -> Payment | None:
    payment: Payment | None = await session.scalar(
        select(Payment)
        .where(
            Payment.job_id == bid.job_id,  # ix_payments_job
            Payment.bid_id == bid.id,
            Payment.purpose == PaymentPurpose.AWARD,
            Payment.status == status,
        )
        .order_by(Payment.id)
        .limit(1)
    )
    return payment


async def accept(
    *,
    session: AsyncSession,
    settings: Settings,
    payments: Payments,
    principal: AccessClaims,
    bid_id: int,
    payment_method: str,
    client_key: str | None,
    seen_amount_cents: int | None = None,
) -> Award:
    """Accept ``bid_id`` and charge for it; repeating the call returns the same award.

    ``seen_amount_cents``: the amount the homeowner was shown; a bid that differs now (the
    contractor raised it in between) is refused, checked with the job locked so no edit
    can slip in before the charge.
    """
    found = await bids.get(session=session, bid_id=bid_id)
    job = await jobs.get(session=session, job_id=found.job_id, for_update=True)
    if job.homeowner_id != principal.user_id:
        raise Forbidden("Only the homeowner who posted the job may accept its bids")
    bid = await bids.get(session=session, bid_id=bid_id)  # as it is now that the job is locked
    if bid.status == BidStatus.ACCEPTED:
        captured = await _payment_of(session, bid, PaymentStatus.SUCCEEDED)
        assert captured is not None, f"accepted bid {bid.id} has no captured payment"
        return Award("awarded", job.id, bid.id, captured)
    if job.status != JobStatus.OPEN:
        raise Conflict(f"The job is {job.status}; no other bid can be accepted")
    BID.check(bid.status, BidStatus.ACCEPTED, by=Role.HOMEOWNER)
    if seen_amount_cents is not None and bid.amount_cents != seen_amount_cents:
        raise Conflict(
            f"The bid is now ${bid.amount_cents / 100:,.2f}, not the ${seen_amount_cents / 100:,.2f} "
            "you saw; look at it again before accepting",
            field="amount_cents",
        )
    charge = _charge(settings, job, bid, principal.user_id, payment_method, client_key)
    held = await charges.earlier(session, charge, AWARD)
    payment = await charges.take(
        session, settings=settings, payments=payments, charge=charge, terms=AWARD, earlier=held
    )
    if payment.status == PaymentStatus.PENDING:
        return Award("pending", job.id, bid.id, payment)
    await _award(session, job, bid)
    return Award("awarded", job.id, bid.id, payment)


def _charge(
    settings: Settings, job: Job, bid: Bid, payer_id: int, payment_method: str, client_key: str | None
) -> charges.Charge:
    """Bid + platform fee, held in the job's escrow until the work is complete."""
    fee = settings.fees.homeowner_platform_fee_cents
    return charges.Charge(
        purpose=PaymentPurpose.AWARD,
        payer_id=payer_id,
        amount_cents=bid.amount_cents + fee,
        fee_cents=fee,
        payment_method=payment_method,
        description=f"Job {job.id}: {job.title}",
        booking=charges.Booking(Kind.AWARD_CAPTURE, Account.ESCROW, job.id),
        job_id=job.id,
        bid_id=bid.id,
        client_key=client_key,
    )


async def _award(session: AsyncSession, job: Job, bid: Bid) -> None:
    """The charge is captured: the job is awarded and the other bids rejected."""
    now = datetime.now(UTC)
    JOB.move(job, JobStatus.AWARDED, by=Role.HOMEOWNER)
    BID.move(bid, BidStatus.ACCEPTED, by=Role.HOMEOWNER)
    bid.decided_at = now
    await session.execute(
        update(Bid)
        .where(Bid.job_id == job.id, Bid.status.in_(BID.sources(BidStatus.REJECTED)), Bid.id != bid.id)
        .values(status=BidStatus.REJECTED, decided_at=now)
    )
    await session.flush()
    await crm.on_award(session, contractor_id=bid.contractor_id, homeowner_id=job.homeowner_id, job_id=job.id)
    await notify(
        session,
        user_id=bid.contractor_id,
        kind="bid.accepted",
        payload={"job_id": job.id, "bid_id": bid.id, "amount_cents": bid.amount_cents},
    )


async def retry(
    *, session: AsyncSession, settings: Settings, payments: Payments, payment_id: int, attempt: int
) -> None:
    """One background attempt of a pending award charge; a no-op unless it is still due.

    If the job was meanwhile awarded to another bid or cancelled, the charge is not tried
    again: the provider is asked what an earlier attempt took, and that is refunded.
    """
    found = await session.get(Payment, payment_id)
    if found is None or found.purpose != PaymentPurpose.AWARD or found.job_id is None or found.bid_id is None:
        return
    job = await jobs.get(session=session, job_id=found.job_id, for_update=True)
    payment = await charges.due(session, payment_id=payment_id, attempt=attempt)
    if payment is None:
        return
    bid = await bids.get(session=session, bid_id=found.bid_id)
    wanted = job.status == JobStatus.OPEN and bid.status == BidStatus.PENDING
    await charges.retry(
        session,
        settings=settings,
        payments=payments,
        payment=payment,
        charge=_charge(settings, job, bid, payment.payer_id, payment.payment_method, None),
        stale=None if wanted else f"Not charged: the job is {job.status} and the bid {bid.status}",
    )
    if payment.status == PaymentStatus.SUCCEEDED:
        await _award(session, job, bid)
        await session.flush()


async def accepted_bid(session: AsyncSession, job_id: int) -> Bid | None:
    bid: Bid | None = await session.scalar(
        select(Bid).where(Bid.job_id == job_id, Bid.status == BidStatus.ACCEPTED)
    )
    return bid


async def start(*, session: AsyncSession, principal: AccessClaims, job_id: int) -> Job:
    job = await jobs.get(session=session, job_id=job_id, for_update=True)
    bid = await accepted_bid(session, job.id)
    if bid is None or bid.contractor_id != principal.user_id:
        raise Forbidden("Only the contractor whose bid was accepted may start this job")
    JOB.move(job, JobStatus.IN_PROGRESS, by=Role(principal.role))
    await session.flush()
    await session.refresh(job)
    return job


async def complete(*, session: AsyncSession, settings: Settings, principal: AccessClaims, job_id: int) -> Job:
    """The homeowner confirms the work; the escrow is released, once (uq_ledger_once)."""
    job = await jobs.get(session=session, job_id=job_id, for_update=True)
    if job.homeowner_id != principal.user_id:
        raise Forbidden("Only the homeowner who posted the job may mark it complete")
    JOB.move(job, JobStatus.COMPLETED, by=Role(principal.role))
    bid = await accepted_bid(session, job.id)
    assert bid is not None, f"job {job.id} is {job.status} without an accepted bid"
    payment = await _payment_of(session, bid, PaymentStatus.SUCCEEDED)
    assert payment is not None, f"accepted bid {bid.id} has no captured payment"
    await _release(session, settings, job, bid, payment)
    await session.flush()
    await reviews.on_job_completed(session, contractor_id=bid.contractor_id)
    await crm.schedule_follow_ups(
        session, settings=settings, contractor_id=bid.contractor_id, homeowner_id=job.homeowner_id
    )
    await session.refresh(job)
    return job


async def refund(*, session: AsyncSession, payments: Payments, principal: AccessClaims, job_id: int) -> Job:
    """Cancel a paid job and give the homeowner its money back, once: the held charge is
    refunded through the provider under a key derived from the payment (a retry refunds
    nothing twice) and the escrow goes back to the card in reversing ledger entries. The
    homeowner may do it before the work starts; an admin also after (a dispute)."""
    job = await jobs.get(session=session, job_id=job_id, for_update=True)
    if job.homeowner_id != principal.user_id and principal.role != Role.ADMIN:
        raise Forbidden("Only the job's homeowner or an admin may refund it")
    JOB.move(job, JobStatus.CANCELLED, by=Role(principal.role))
    bid = await accepted_bid(session, job.id)
    if bid is None:  # an open job (an admin may cancel one): nothing was paid
        raise Conflict(f"Job {job.id} has no payment to refund; cancel it instead")
    payment = await _payment_of(session, bid, PaymentStatus.SUCCEEDED)
    assert payment is not None, f"accepted bid {bid.id} has no captured payment"
    assert payment.provider_ref is not None, f"payment {payment.id} was captured without a reference"
    held = await ledger.balance(session, account=Account.ESCROW, owner_id=job.id)
    try:
        reference = await payments.refund(
            reference=payment.provider_ref, amount_cents=held, idempotency_key=f"refund:{payment.id}"
        )
    except ProviderUnavailable as exc:  # nothing recorded: the same key is safe to try again
        raise ProviderDown(
            "The payments provider is not answering; nothing was refunded yet, try again"
        ) from exc
    await ledger.post(
        session,
        kind=Kind.REFUND,
        entries=[Entry(Account.ESCROW, job.id, -held), Entry(Account.CARD, payment.payer_id, held)],
        payment_id=payment.id,
        job_id=job.id,
    )
    charging.record(session, payment, "refunded", reference=reference, amount_cents=held)
    job.cancelled_at = datetime.now(UTC)
    await audit.record(
        session,
        actor_id=principal.user_id,
        action="job.refunded",
        target=f"job:{job.id}",
        data={"cents": held},
    )
    await notify(
        session, user_id=bid.contractor_id, kind="job.cancelled", payload={"job_id": job.id, "bid_id": bid.id}
    )
    await session.flush()
    await session.refresh(job)
    return job


async def _release(session: AsyncSession, settings: Settings, job: Job, bid: Bid, payment: Payment) -> None:
    """Escrow -> contractor (the bid, less the contractor fee: 0 %), operator, platform.

    The platform fee is the one charged at award time; the operator who runs the
    territory when the job completes earns its share.
    """
    fees = settings.fees
    held = await ledger.balance(session, account=Account.ESCROW, owner_id=job.id)
    platform_fee = payment.fee_cents
    contractor_fee = (held - platform_fee) * fees.contractor_fee_bps // 10_000
    operator_id = await session.scalar(
        select(Territory.operator_id).where(Territory.fips == job.territory_fips)
    )
    operator_share = platform_fee * fees.operator_share_bps // 10_000 if operator_id is not None else 0
    await ledger.post(
        session,
        kind=Kind.RELEASE,
        entries=[
            Entry(Account.ESCROW, job.id, -held),
            Entry(Account.CONTRACTOR, bid.contractor_id, held - platform_fee - contractor_fee),
            Entry(Account.OPERATOR, operator_id, operator_share),
            Entry(Account.PLATFORM, None, platform_fee - operator_share + contractor_fee),
        ],
        job_id=job.id,
    )
