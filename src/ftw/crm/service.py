"""CRM rules: a contractor's customers, their pipeline stage, interactions and follow-ups.

Stages (every automatic move below; the contractor may also set any stage by hand):

- lead: added by the contractor for a homeowner whose job it bid on (``add_lead``).
- active: a bid of the contractor was accepted by the homeowner (``on_award``); this also
  cancels follow-ups still scheduled from an earlier job.
- completed: that job was completed (``schedule_follow_ups``), which also starts the
  follow-up sequence (``config.crm.follow_up_days`` after completion).
- advocate: a 5-star review (``on_review``), or a job completed by a customer with
  ``ADVOCATE_MIN_JOBS`` or more jobs.
- inactive: no interaction for ``INACTIVE_AFTER`` (daily task ``crm.mark_inactive``);
  customers in active work are never made inactive.

A reply (an inbound interaction, or a message from the homeowner in a job thread) pauses
the customer's scheduled follow-ups.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    case,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.models import User
from ftw.bids.models import Bid
from ftw.billing.events import InvoicePaid
from ftw.config import Settings
from ftw.core.errors import Conflict, Invalid, NotFound
from ftw.core.pagination import Keyset, PageParams
from ftw.crm.models import FOLLOW_UP, Customer, FollowUp, Interaction, Stage
from ftw.crm.models import FollowUpStatus as F
from ftw.crm.schemas import (
    CustomerDetail,
    CustomerOut,
    FollowUpDue,
    FollowUpOut,
    InteractionIn,
    InteractionOut,
)
from ftw.jobs.models import Job
from ftw.messaging.events import HomeownerReplied
from ftw.messaging.notifications import notify
from ftw.reviews.events import Reviewed

INACTIVE_AFTER = timedelta(days=180)
ADVOCATE_MIN_JOBS = 2
FOLLOW_UP_BATCH = 500
# Stages an idle customer leaves for inactive; active work never goes idle.
IDLE_STAGES = (Stage.LEAD.value, Stage.COMPLETED.value, Stage.ADVOCATE.value)

_stage_rank = case({stage.value: rank for rank, stage in enumerate(Stage)}, value=Customer.stage)
_touched = func.coalesce(Customer.last_interaction_at, Customer.created_at)


def _pair(contractor_id: int, homeowner_id: int) -> ColumnElement[bool]:
    return and_(Customer.contractor_id == contractor_id, Customer.homeowner_id == homeowner_id)


async def on_award(session: AsyncSession, *, contractor_id: int, homeowner_id: int, job_id: int) -> int:
    """Create the contractor's customer once (unique per pair); a repeat customer counts a job.

    A new job supersedes the follow-ups still scheduled from the previous one.
    """
    now = datetime.now(UTC)
    statement = insert(Customer).values(
        contractor_id=contractor_id,
        homeowner_id=homeowner_id,
        first_job_id=job_id,
        stage=Stage.ACTIVE.value,
        jobs_count=1,
        last_interaction_at=now,
    )
    customer_id = await session.scalar(
        statement.on_conflict_do_update(
            index_elements=[Customer.contractor_id, Customer.homeowner_id],
            set_={
                "jobs_count": Customer.jobs_count + 1,
                "first_job_id": func.coalesce(Customer.first_job_id, statement.excluded.first_job_id),
                "stage": Stage.ACTIVE.value,
                "last_interaction_at": now,
                "updated_at": now,
            },
        ).returning(Customer.id)
    )
    assert customer_id is not None
    await session.execute(
        update(FollowUp)
        .where(FollowUp.customer_id == customer_id, FollowUp.status.in_(FOLLOW_UP.sources(F.CANCELLED)))
        .values(status=F.CANCELLED)
    )
    return int(customer_id)


async def on_invoice_paid(session: AsyncSession, paid: InvoicePaid) -> None:
    """Lifetime value grows by what the customer actually paid."""
    await session.execute(
        update(Customer)
        .where(_pair(paid.contractor_id, paid.homeowner_id))
        .values(
            lifetime_value_cents=Customer.lifetime_value_cents + paid.amount_cents,
            updated_at=datetime.now(UTC),
        )
    )


async def schedule_follow_ups(
    session: AsyncSession,
    *,
    settings: Settings,
    contractor_id: int,
    homeowner_id: int,
    completed_at: datetime | None = None,
) -> int:
    """The job is complete: move the customer on and schedule its follow-up sequence.

    Call it in the completion transaction. Returns how many follow-ups were scheduled
    (0 when the pair has no customer, which ``on_award`` should have created).
    """
    now = datetime.now(UTC)
    customer_id = await session.scalar(
        update(Customer)
        .where(_pair(contractor_id, homeowner_id))
        .values(
            stage=case(
                (Customer.jobs_count >= ADVOCATE_MIN_JOBS, Stage.ADVOCATE.value), else_=Stage.COMPLETED.value
            ),
            last_interaction_at=now,
            updated_at=now,
        )
        .returning(Customer.id)
    )
    days = settings.crm.follow_up_days
    if customer_id is None or not days:
        return 0
    start = completed_at or now
    statement = insert(FollowUp).values(
        [
            {
                "customer_id": customer_id,
                "day": day,
                "due_at": start + timedelta(days=day),
                "status": F.SCHEDULED,
            }
            for day in days
        ]
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[FollowUp.customer_id, FollowUp.day],
            # Every state may start again (FOLLOW_UP): no WHERE on the upsert.
            set_={"due_at": statement.excluded.due_at, "status": F.SCHEDULED, "sent_at": None},
        )
    )
    return len(days)


async def _pause_follow_ups(session: AsyncSession, customer_id: int) -> None:
    await session.execute(
        update(FollowUp)
        .where(FollowUp.customer_id == customer_id, FollowUp.status.in_(FOLLOW_UP.sources(F.PAUSED)))
        .values(status=F.PAUSED)
    )


async def on_reply(session: AsyncSession, reply: HomeownerReplied) -> None:
    """The homeowner wrote to the contractor: a touch, and its follow-ups pause."""
    customer_id = await session.scalar(
        update(Customer)
        .where(_pair(reply.contractor_id, reply.homeowner_id))
        .values(last_interaction_at=func.now())
        .returning(Customer.id)
    )
    if customer_id is not None:
        await _pause_follow_ups(session, customer_id)


async def on_review(session: AsyncSession, review: Reviewed) -> None:
    """A review is a touch; five stars make a customer who is not in active work an advocate."""
    values: dict[str, Any] = {"last_interaction_at": func.now(), "updated_at": func.now()}
    if review.rating == 5:
        values["stage"] = case(
            (Customer.stage == Stage.ACTIVE.value, Stage.ACTIVE.value), else_=Stage.ADVOCATE.value
        )
    await session.execute(
        update(Customer).where(_pair(review.contractor_id, review.homeowner_id)).values(**values)
    )


_CUSTOMER_COLUMNS = (
    Customer.id,
    Customer.homeowner_id,
    User.full_name.label("homeowner_name"),
    Customer.stage,
    Customer.lifetime_value_cents,
    Customer.jobs_count,
    Customer.first_job_id,
    Customer.last_interaction_at,
    Customer.created_at,
)


async def add_lead(*, session: AsyncSession, contractor_id: int, homeowner_id: int) -> CustomerOut:
    """A homeowner whose job the contractor bid on, before any award."""
    bid_on = await session.scalar(
        select(Bid.id)
        .join(Job, Job.id == Bid.job_id)
        .where(Bid.contractor_id == contractor_id, Job.homeowner_id == homeowner_id)
        .limit(1)
    )
    if bid_on is None:
        raise Invalid("Add homeowners whose jobs you have bid on", field="homeowner_id")
    customer_id = await session.scalar(
        insert(Customer)
        .values(
            contractor_id=contractor_id,
            homeowner_id=homeowner_id,
            stage=Stage.LEAD.value,
            jobs_count=0,
            last_interaction_at=func.now(),
        )
        .on_conflict_do_nothing(index_elements=[Customer.contractor_id, Customer.homeowner_id])
        .returning(Customer.id)
    )
    if customer_id is None:
        raise Conflict("This homeowner is already your customer", field="homeowner_id")
    return (await _customer(session, contractor_id=contractor_id, customer_id=customer_id))[0]


async def _customer(
    session: AsyncSession, *, contractor_id: int, customer_id: int
) -> tuple[CustomerOut, str, str | None]:
    """The contractor's customer with the homeowner's contact; another's is a 404."""
    row = (
        await session.execute(
            select(*_CUSTOMER_COLUMNS, User.email, User.phone)
            .join(User, User.id == Customer.homeowner_id)
            .where(Customer.id == customer_id, Customer.contractor_id == contractor_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"No customer {customer_id}")
    return CustomerOut.model_validate(row._mapping), row.email, row.phone


async def customer(*, session: AsyncSession, contractor_id: int, customer_id: int) -> CustomerDetail:
    found, email, phone = await _customer(session, contractor_id=contractor_id, customer_id=customer_id)
    steps = await session.scalars(
        select(FollowUp).where(FollowUp.customer_id == customer_id).order_by(FollowUp.day)
    )
    contact = found.jobs_count > 0
    return CustomerDetail(
        **found.model_dump(),
        email=email if contact else None,
        phone=phone if contact else None,
        follow_ups=[FollowUpOut.model_validate(s) for s in steps],
    )


@functools.cache
def _pipeline_pages(*, with_stage: bool) -> Keyset:
    """The pipeline's pager; one per shape."""
    rank, touched = _stage_rank.label("rank"), _touched.label("touched")
    query: Select[Any] = (
        select(*_CUSTOMER_COLUMNS, rank, touched)
        .join(User, User.id == Customer.homeowner_id)
        .where(Customer.contractor_id == bindparam("contractor_id"))
    )
    if with_stage:
        query = query.where(Customer.stage == bindparam("stage"))
    return Keyset(query, rank, touched.desc(), Customer.id.desc())


async def customers(
    *, session: AsyncSession, contractor_id: int, stage: Stage | None, page: PageParams
) -> tuple[list[CustomerOut], str | None]:
    """The contractor's pipeline: by stage (lead first), then most recently touched."""
    pages = _pipeline_pages(with_stage=stage is not None)
    rows, next_cursor = await pages.page(
        session, page.cursor, page.limit, contractor_id=contractor_id, stage=stage.value if stage else None
    )
    return [CustomerOut.model_validate(dict(row)) for row in rows], next_cursor


async def set_stage(
    *, session: AsyncSession, contractor_id: int, customer_id: int, stage: Stage
) -> CustomerOut:
    changed = await session.scalar(
        update(Customer)
        .where(Customer.id == customer_id, Customer.contractor_id == contractor_id)
        .values(stage=stage.value, updated_at=func.now())
        .returning(Customer.id)
    )
    if changed is None:
        raise NotFound(f"No customer {customer_id}")
    return (await _customer(session, contractor_id=contractor_id, customer_id=customer_id))[0]


async def add_interaction(
    *, session: AsyncSession, contractor_id: int, customer_id: int, data: InteractionIn
) -> InteractionOut:
    """Log a touch; an inbound one is the customer replying, which pauses its follow-ups."""
    touched = await session.scalar(
        update(Customer)
        .where(Customer.id == customer_id, Customer.contractor_id == contractor_id)
        .values(last_interaction_at=func.now())
        .returning(Customer.id)
    )
    if touched is None:
        raise NotFound(f"No customer {customer_id}")
    assert data.direction is not None
    interaction = await session.scalar(
        insert(Interaction)
        .values(customer_id=customer_id, kind=data.kind.value, direction=data.direction.value, note=data.note)
        .returning(Interaction)
    )
    if data.direction == "inbound":
        await _pause_follow_ups(session, customer_id)
    return InteractionOut.model_validate(interaction)


_INTERACTIONS = Keyset(
    select(*Interaction.__table__.c[tuple(InteractionOut.model_fields)]).where(
        Interaction.customer_id == bindparam("customer_id")
    ),
    Interaction.id.desc(),
)


async def interactions(
    *, session: AsyncSession, contractor_id: int, customer_id: int, page: PageParams
) -> tuple[list[InteractionOut], str | None]:
    """Newest first, by keyset on id."""
    await _customer(session, contractor_id=contractor_id, customer_id=customer_id)
    rows, next_cursor = await _INTERACTIONS.page(session, page.cursor, page.limit, customer_id=customer_id)
    return [InteractionOut.model_validate(dict(row)) for row in rows], next_cursor


async def follow_ups_due(*, session: AsyncSession, contractor_id: int, limit: int) -> list[FollowUpDue]:
    """The contractor's scheduled follow-ups, soonest first (sent by ``send_due_follow_ups``)."""
    rows = await session.execute(
        select(FollowUp.customer_id, User.full_name.label("homeowner_name"), FollowUp.day, FollowUp.due_at)
        .join(Customer, Customer.id == FollowUp.customer_id)
        .join(User, User.id == Customer.homeowner_id)
        .where(Customer.contractor_id == contractor_id, FollowUp.status == F.SCHEDULED)
        .order_by(FollowUp.due_at, FollowUp.id)
        .limit(limit)
    )
    return [FollowUpDue.model_validate(dict(row._mapping)) for row in rows]


def follow_up_text(contractor_name: str, day: int) -> str:
    if day <= 1:
        return (
            f"Thank you for choosing {contractor_name}! Reply here if anything about the job needs attention."
        )
    return f"{contractor_name} is checking in {day} days after your job. Need anything else done?"


async def send_due_follow_ups(*, session: AsyncSession, limit: int = FOLLOW_UP_BATCH) -> int:
    """Send up to ``limit`` due follow-ups; returns how many.

    Each is moved scheduled -> sent under its row lock (SKIP LOCKED: concurrent runs split
    the work), so a re-run or a second worker never sends one twice; paused and cancelled
    ones are not due. Each sent one is an outbound interaction and notifies the homeowner.
    """
    due = (
        await session.execute(
            select(FollowUp, Customer.homeowner_id, Customer.contractor_id, User.full_name)
            .join(Customer, Customer.id == FollowUp.customer_id)
            .join(User, User.id == Customer.contractor_id)
            .where(FollowUp.status == F.SCHEDULED, FollowUp.due_at <= func.now())
            .order_by(FollowUp.due_at)
            .limit(limit)
            .with_for_update(of=FollowUp, skip_locked=True)
        )
    ).all()
    if not due:
        return 0
    for row in due:
        FOLLOW_UP.move(row.FollowUp, F.SENT)
        row.FollowUp.sent_at = func.now()
    await session.execute(
        insert(Interaction).values(
            [
                {
                    "customer_id": row.FollowUp.customer_id,
                    "kind": "follow_up",
                    "direction": "outbound",
                    "note": f"Day {row.FollowUp.day} follow-up sent",
                }
                for row in due
            ]
        )
    )
    await session.execute(
        update(Customer)
        .where(Customer.id.in_({row.FollowUp.customer_id for row in due}))
        .values(last_interaction_at=func.now())
    )
    for row in due:
        await notify(
            session,
            user_id=row.homeowner_id,
            kind="crm.follow_up",
            payload={
                "customer_id": row.FollowUp.customer_id,
                "contractor_id": row.contractor_id,
                "contractor_name": row.full_name,
                "day": row.FollowUp.day,
                "text": follow_up_text(row.full_name, row.FollowUp.day),
            },
        )
    return len(due)


async def mark_inactive(*, session: AsyncSession) -> int:
    """Customers untouched for ``INACTIVE_AFTER`` become inactive; returns how many."""
    result = await session.execute(
        update(Customer)
        .where(
            Customer.stage.in_(IDLE_STAGES),
            Customer.last_interaction_at < func.now() - INACTIVE_AFTER,
        )
        .values(stage=Stage.INACTIVE.value, updated_at=func.now())
        .returning(Customer.id)
    )
    return len(result.all())
