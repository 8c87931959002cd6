"""Bids: placing, editing and withdrawing them, boosts, and who may see which.

Bidding is blind: a contractor sees only its own bids; the job's homeowner, the operator
of the job's territory and admins see all of a job's bids.

Writes that depend on the job being open hold a lock on the job row: FOR SHARE for bids
(many contractors may bid at once), FOR UPDATE for boosts and awards (bids/flows.py), so
an award never races a bid placed, edited or withdrawn at the same moment.
"""

from __future__ import annotations

import functools
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.models import Role
from ftw.bids.events import BidPlaced
from ftw.bids.models import BID, Bid, BidBoost, BidStatus
from ftw.bids.schemas import BidCreate, BidOut, BidUpdate
from ftw.billing import charges
from ftw.billing.ledger import Kind
from ftw.billing.models import Account, Payment, PaymentPurpose, PaymentStatus
from ftw.config import BidRules, Settings
from ftw.core import events, metrics
from ftw.core.errors import Conflict, Forbidden, Invalid, NotFound
from ftw.core.pagination import Keyset, PageParams
from ftw.core.query import Query
from ftw.core.security import AccessClaims
from ftw.integrations.payments import Payments
from ftw.jobs import service as jobs
from ftw.jobs.models import Job, JobStatus
from ftw.messaging.notifications import notify
from ftw.territories.models import Territory


def _dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def amount_range(job: Job, rules: BidRules) -> tuple[int, int]:
    """The amounts a bid on ``job`` may ask: 0.5 x the estimate's low to 3 x its high."""
    return (
        math.ceil(job.price_low_cents * rules.min_factor_of_low),
        math.floor(job.price_high_cents * rules.max_factor_of_high),
    )


def _check(job: Job, rules: BidRules, *, amount_cents: int | None, message: str | None) -> None:
    if amount_cents is not None:
        low, high = amount_range(job, rules)
        if not low <= amount_cents <= high:
            raise Invalid(
                f"Bid between {_dollars(low)} and {_dollars(high)} on this job", field="amount_cents"
            )
    if message is not None and len(message) < rules.message_min:
        raise Invalid(f"The message must be at least {rules.message_min} characters", field="message")


async def _open_job(session: AsyncSession, job_id: int) -> Job:
    """The job, share-locked against a concurrent award; 409 unless it is open."""
    job = await session.scalar(select(Job).where(Job.id == job_id).with_for_update(read=True))
    if job is None:
        raise NotFound(f"No job {job_id}")
    if job.status != JobStatus.OPEN:
        raise Conflict(f"The job is {job.status}; it takes no bids")
    return job


async def get(*, session: AsyncSession, bid_id: int, for_update: bool = False) -> Bid:
    query = select(Bid).where(Bid.id == bid_id).execution_options(populate_existing=True)
    if for_update:
        query = query.with_for_update()
    bid = await session.scalar(query)
    if bid is None:
        raise NotFound(f"No bid {bid_id}")
    return bid


async def _own_pending(session: AsyncSession, principal: AccessClaims, bid_id: int) -> tuple[Bid, Job]:
    """The caller's pending bid on an open job, locked in the order job, then bid."""
    bid = await get(session=session, bid_id=bid_id)
    if bid.contractor_id != principal.user_id:
        raise Forbidden("Only the contractor who placed this bid may change it")
    job = await _open_job(session, bid.job_id)
    bid = await get(session=session, bid_id=bid_id, for_update=True)
    if bid.status != BidStatus.PENDING:
        raise Conflict(f"The bid is {bid.status}; only a pending bid can change")
    paying = await session.scalar(
        select(func.count()).where(
            Payment.job_id == job.id,
            Payment.bid_id == bid.id,
            Payment.purpose == PaymentPurpose.AWARD,
            Payment.status == PaymentStatus.PENDING,
        )
    )
    if paying:
        raise Conflict("The homeowner is paying for this bid; it cannot change now")
    return bid, job


async def place(
    *, session: AsyncSession, settings: Settings, principal: AccessClaims, job_id: int, data: BidCreate
) -> Bid:
    if principal.role != Role.CONTRACTOR:
        raise Forbidden("Only contractors bid")
    job = await _open_job(session, job_id)
    _check(job, settings.bids, amount_cents=data.amount_cents, message=data.message)
    live = await session.scalar(
        select(Bid.id).where(
            Bid.job_id == job.id, Bid.contractor_id == principal.user_id, Bid.status == BidStatus.PENDING
        )
    )
    if live is not None:
        raise Conflict(f"You already have a live bid ({live}) on this job; edit or withdraw it")
    now = datetime.now(UTC)
    bid = Bid(
        job_id=job.id,
        contractor_id=principal.user_id,
        amount_cents=data.amount_cents,
        message=data.message,
        status=BidStatus.PENDING.value,
        is_lightning=now - job.created_at <= timedelta(minutes=settings.bids.lightning_minutes),
    )
    try:
        async with session.begin_nested():
            session.add(bid)
            await session.flush()
    except IntegrityError as exc:  # the same contractor's other request won (uq_bids_live)
        raise Conflict("You already have a live bid on this job; edit or withdraw it") from exc
    await events.publish(session, BidPlaced(job_id=job.id, at=now))
    metrics.count("bids", session=session)
    await notify(
        session,
        user_id=job.homeowner_id,
        kind="bid.new",
        payload={"job_id": job.id, "bid_id": bid.id, "amount_cents": bid.amount_cents},
    )
    await session.refresh(bid)
    return bid


async def edit(
    *, session: AsyncSession, settings: Settings, principal: AccessClaims, bid_id: int, data: BidUpdate
) -> Bid:
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if not changes:
        raise Invalid("Nothing to change", field="body")
    bid, job = await _own_pending(session, principal, bid_id)
    _check(job, settings.bids, amount_cents=changes.get("amount_cents"), message=changes.get("message"))
    for name, value in changes.items():
        setattr(bid, name, value)
    await session.flush()
    await session.refresh(bid)
    return bid


async def withdraw(*, session: AsyncSession, principal: AccessClaims, bid_id: int) -> Bid:
    bid, _ = await _own_pending(session, principal, bid_id)
    BID.move(bid, BidStatus.WITHDRAWN, by=Role.CONTRACTOR)
    bid.decided_at = datetime.now(UTC)
    await session.flush()
    await session.refresh(bid)
    return bid


BOOST = charges.Terms(
    when_down=charges.Down.REFUSE,
    declined="{reason}; the bid is not boosted",
    down="The payments provider is not answering; try again in a few minutes",
    field=None,
)


async def boost(
    *,
    session: AsyncSession,
    settings: Settings,
    payments: Payments,
    principal: AccessClaims,
    bid_id: int,
    payment_method: str,
    client_key: str | None,
) -> Bid:
    """Charge the boost price and show the bid above others for ``boost_hours``.

    The job row is locked FOR UPDATE so the count of live boosts cannot race.
    """
    rules, price = settings.bids, settings.fees.boost_price_cents
    bid = await get(session=session, bid_id=bid_id)
    if bid.contractor_id != principal.user_id:
        raise Forbidden("Only the contractor who placed this bid may boost it")
    job = await jobs.get(session=session, job_id=bid.job_id, for_update=True)
    bid = await get(session=session, bid_id=bid_id)
    charge = charges.Charge(
        purpose=PaymentPurpose.BOOST,
        payer_id=principal.user_id,
        amount_cents=price,
        fee_cents=price,
        payment_method=payment_method,
        description=f"Boost of bid {bid.id}",
        booking=charges.Booking(Kind.BOOST, Account.PLATFORM),
        job_id=job.id,
        bid_id=bid.id,
        client_key=client_key,
    )
    if await charges.earlier(session, charge, BOOST) is not None:  # a repeat of a boost made
        return bid
    if job.status != JobStatus.OPEN or bid.status != BidStatus.PENDING:
        raise Conflict("Only a pending bid on an open job can be boosted")
    now = datetime.now(UTC)
    if bid.boosted_until is not None and bid.boosted_until > now:
        raise Conflict(f"The bid is already boosted until {bid.boosted_until.isoformat()}")
    live = await session.scalar(select(func.count()).where(BidBoost.job_id == job.id, BidBoost.ends_at > now))
    if (live or 0) >= rules.max_live_boosts_per_job:
        raise Conflict(f"This job already has {rules.max_live_boosts_per_job} boosted bids; try later")
    payment = await charges.take(
        session, settings=settings, payments=payments, charge=charge, terms=BOOST, earlier=None
    )
    ends = now + timedelta(hours=rules.boost_hours)
    session.add(
        BidBoost(
            bid_id=bid.id,
            job_id=job.id,
            price_cents=price,
            payment_id=payment.id,
            starts_at=now,
            ends_at=ends,
        )
    )
    bid.boosted_until = ends
    await session.flush()
    await session.refresh(bid)
    return bid


def _rank() -> ColumnElement[int]:
    """The homeowner's order: accepted, then live boosts, then the other pending, then the rest."""
    return case(
        (Bid.status == BidStatus.ACCEPTED, 0),
        (and_(Bid.status == BidStatus.PENDING, Bid.boosted_until > func.now()), 1),
        (Bid.status == BidStatus.PENDING, 2),
        else_=3,
    )


_AUDIENCE = Query(
    select(Job.homeowner_id, Job.status, Territory.operator_id)
    .join(Territory, Territory.fips == Job.territory_fips)
    .where(Job.id == bindparam("job_id"))
)


async def _sees_all(session: AsyncSession, principal: AccessClaims, job_id: int) -> bool:
    audience = await _AUDIENCE.row(session, job_id=job_id)
    if audience is None:
        raise NotFound(f"No job {job_id}")
    if principal.role == Role.ADMIN or audience["homeowner_id"] == principal.user_id:
        return True
    if principal.role == Role.OPERATOR and audience["operator_id"] == principal.user_id:
        # Blind until the award: an operator (who may also bid from another account) sees
        # the county's bid figures in analytics, never an open job's amounts.
        if audience["status"] == JobStatus.OPEN:
            raise Forbidden("An operator sees an open job's bids only as county figures, after the award")
        return True
    if principal.role == Role.CONTRACTOR:
        return False
    raise Forbidden("Only the job's homeowner, its territory's operator and bidders see its bids")


@functools.cache
def _of_job_query(*, own: bool, with_status: bool) -> Keyset:
    """The pages of a job's bids in the homeowner's order; one pager per shape."""
    rank = _rank().label("rank")
    query = select(*Bid.__table__.c[tuple(BidOut.model_fields)], rank).where(
        Bid.job_id == bindparam("job_id")
    )
    if own:
        query = query.where(Bid.contractor_id == bindparam("contractor_id"))
    if with_status:
        query = query.where(Bid.status == bindparam("status"))
    return Keyset(query, rank, Bid.amount_cents, Bid.id)


async def of_job(
    *,
    session: AsyncSession,
    principal: AccessClaims,
    job_id: int,
    status: BidStatus | None,
    page: PageParams,
) -> tuple[list[BidOut], str | None]:
    """A job's bids in the homeowner's order, by keyset on (rank, amount, id)."""
    own = not await _sees_all(session, principal, job_id)
    values: dict[str, Any] = {"job_id": job_id}
    if own:
        values["contractor_id"] = principal.user_id
    if status is not None:
        values["status"] = status.value
    pages = _of_job_query(own=own, with_status=status is not None)
    rows, next_cursor = await pages.page(session, page.cursor, page.limit, **values)
    return [BidOut.model_validate(dict(row)) for row in rows], next_cursor


async def pending_counts(*, session: AsyncSession, job_ids: list[int]) -> dict[int, int]:
    """How many pending bids each of ``job_ids`` has (absent: none), in one statement."""
    if not job_ids:
        return {}
    rows = await session.execute(
        select(Bid.job_id, func.count())
        .where(Bid.job_id.in_(job_ids), Bid.status == BidStatus.PENDING.value)
        .group_by(Bid.job_id)
    )
    return {job_id: count for job_id, count in rows}


_OF_CONTRACTOR = {
    with_status: Keyset(
        select(*Bid.__table__.c[tuple(BidOut.model_fields)]).where(
            Bid.contractor_id == bindparam("contractor_id"),
            *([Bid.status == bindparam("status")] if with_status else []),
        ),
        Bid.created_at.desc(),
        Bid.id.desc(),
    )
    for with_status in (False, True)
}


async def of_contractor(
    *,
    session: AsyncSession,
    contractor_id: int,
    status: BidStatus | None,
    page: PageParams,
) -> tuple[list[BidOut], str | None]:
    """A contractor's own bids, newest first."""
    values: dict[str, Any] = {"contractor_id": contractor_id}
    if status is not None:
        values["status"] = status.value
    rows, next_cursor = await _OF_CONTRACTOR[status is not None].page(
        session, page.cursor, page.limit, **values
    )
    return [BidOut.model_validate(dict(row)) for row in rows], next_cursor
