"""Review rules and the contractor statistics they keep current.

The homeowner of a completed job reviews the contractor whose bid was accepted, once per
job; that contractor may answer once. ``contractor_stats`` changes in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Numeric, bindparam, cast, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.models import Role, User
from ftw.bids.models import Bid, BidStatus
from ftw.core import events
from ftw.core.errors import Conflict, Forbidden, NotFound
from ftw.core.pagination import Keyset, PageParams
from ftw.core.security import AccessClaims
from ftw.jobs import service as jobs
from ftw.jobs.models import JobStatus
from ftw.messaging.notifications import notify
from ftw.reviews.events import Reviewed
from ftw.reviews.models import ContractorStats, Review
from ftw.reviews.schemas import ContractorProfile, ResponseIn, ReviewIn, ReviewOut


@dataclass(frozen=True)
class ScorePolicy:
    """The weights of the performance score (they add up to 100 points)."""

    rating_points: float = 50.0
    completion_points: float = 30.0
    response_points: float = 20.0
    completion_cap: int = 20  # jobs completed for the full completion points
    prior_mean: float = 3.0  # a newcomer's rating counts as this many 3-star reviews ...
    prior_weight: int = 3  # ... so one 5-star review does not top the board


SCORE = ScorePolicy()


def performance_score(
    *, rating_sum: int, rating_count: int, jobs_completed: int, responses: int, policy: ScorePolicy = SCORE
) -> float:
    """A 0-100 blend of how well, how much and how attentively a contractor works.

    - rating (50): the average rating damped toward 3 stars by a prior of 3 reviews,
      mapped from 1-5 stars to 0-50 points;
    - completion (30): jobs completed, linear up to 20;
    - response (20): the share of its reviews the contractor has answered.
    """
    damped = (rating_sum + policy.prior_mean * policy.prior_weight) / (rating_count + policy.prior_weight)
    rating = policy.rating_points * (damped - 1) / 4
    completion = policy.completion_points * min(jobs_completed, policy.completion_cap) / policy.completion_cap
    response = policy.response_points * responses / rating_count if rating_count else 0.0
    return round(rating + completion + response, 2)


async def _refresh_score(session: AsyncSession, contractor_id: int) -> None:
    responses = (
        select(func.count())
        .where(Review.contractor_id == contractor_id, Review.response.is_not(None))
        .scalar_subquery()
    )
    row = (
        await session.execute(
            select(
                ContractorStats.rating_sum,
                ContractorStats.rating_count,
                ContractorStats.jobs_completed,
                responses.label("responses"),
            ).where(ContractorStats.contractor_id == contractor_id)
        )
    ).one()
    await session.execute(
        update(ContractorStats)
        .where(ContractorStats.contractor_id == contractor_id)
        .values(performance_score=performance_score(**row._mapping), updated_at=datetime.now(UTC))
    )


async def on_job_completed(session: AsyncSession, *, contractor_id: int) -> None:
    statement = insert(ContractorStats).values(contractor_id=contractor_id, jobs_completed=1)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[ContractorStats.contractor_id],
            set_={"jobs_completed": ContractorStats.jobs_completed + 1, "updated_at": datetime.now(UTC)},
        )
    )
    await _refresh_score(session, contractor_id)


_REVIEW_COLUMNS = (
    Review.id,
    Review.job_id,
    Review.contractor_id,
    Review.rating,
    Review.body,
    Review.response,
    Review.responded_at,
    Review.created_at,
    func.split_part(User.full_name, " ", 1).label("reviewer"),
)


async def _present(session: AsyncSession, review_id: int) -> ReviewOut:
    row = (
        await session.execute(
            select(*_REVIEW_COLUMNS).join(User, User.id == Review.homeowner_id).where(Review.id == review_id)
        )
    ).one()
    return ReviewOut.model_validate(row._mapping)


async def post(*, session: AsyncSession, principal: AccessClaims, job_id: int, data: ReviewIn) -> ReviewOut:
    """The homeowner rates the contractor of its completed job; a second review is a 409."""
    job = await jobs.get(session=session, job_id=job_id)
    if job.homeowner_id != principal.user_id:
        raise Forbidden("Only the homeowner who posted this job may review it")
    if job.status != JobStatus.COMPLETED:
        raise Conflict(f"Only a completed job can be reviewed; this one is {job.status}")
    contractor_id = await session.scalar(
        select(Bid.contractor_id).where(Bid.job_id == job.id, Bid.status == BidStatus.ACCEPTED.value)
    )
    if contractor_id is None:
        raise Conflict("This job has no accepted bid, so no contractor to review")
    review_id = await session.scalar(
        insert(Review)
        .values(
            job_id=job.id,
            homeowner_id=job.homeowner_id,
            contractor_id=contractor_id,
            rating=data.rating,
            body=data.body,
        )
        .on_conflict_do_nothing(index_elements=[Review.job_id])
        .returning(Review.id)
    )
    if review_id is None:
        raise Conflict("This job has already been reviewed")
    stats = insert(ContractorStats).values(
        contractor_id=contractor_id, rating_count=1, rating_sum=data.rating, rating_avg=data.rating
    )
    await session.execute(
        stats.on_conflict_do_update(
            index_elements=[ContractorStats.contractor_id],
            set_={
                "rating_count": ContractorStats.rating_count + 1,
                "rating_sum": ContractorStats.rating_sum + data.rating,
                "rating_avg": func.round(
                    cast(ContractorStats.rating_sum + data.rating, Numeric)
                    / (ContractorStats.rating_count + 1),
                    2,
                ),
            },
        )
    )
    await _refresh_score(session, contractor_id)
    review = await _present(session, review_id)
    await notify(
        session,
        user_id=contractor_id,
        kind="review.new",
        payload={
            "review_id": review.id,
            "job_id": job.id,
            "job_title": job.title,
            "rating": data.rating,
            "homeowner_name": review.reviewer,
        },
    )
    await events.publish(
        session, Reviewed(contractor_id=contractor_id, homeowner_id=job.homeowner_id, rating=data.rating)
    )
    return review


async def respond(
    *, session: AsyncSession, principal: AccessClaims, review_id: int, data: ResponseIn
) -> ReviewOut:
    """The reviewed contractor answers, once."""
    contractor_id = await session.scalar(select(Review.contractor_id).where(Review.id == review_id))
    if contractor_id is None:
        raise NotFound(f"No review {review_id}")
    if contractor_id != principal.user_id:
        raise Forbidden("Only the reviewed contractor may answer this review")
    answered = await session.scalar(
        update(Review)
        .where(Review.id == review_id, Review.response.is_(None))
        .values(response=data.body, responded_at=func.now())
        .returning(Review.id)
    )
    if answered is None:
        raise Conflict("This review has already been answered")
    await _refresh_score(session, contractor_id)
    return await _present(session, review_id)


async def _contractor(session: AsyncSession, contractor_id: int) -> User:
    user = await session.get(User, contractor_id)
    if user is None or user.role != Role.CONTRACTOR or not user.is_active:
        raise NotFound(f"No contractor {contractor_id}")
    return user


async def profile(*, session: AsyncSession, contractor_id: int) -> ContractorProfile:
    user = await _contractor(session, contractor_id)
    stats = await session.get(ContractorStats, contractor_id)
    return ContractorProfile(
        id=user.id,
        full_name=user.full_name,
        territory_fips=user.territory_fips,
        is_available=user.is_available,
        member_since=user.created_at,
        rating_avg=stats.rating_avg if stats else 0.0,
        rating_count=stats.rating_count if stats else 0,
        jobs_completed=stats.jobs_completed if stats else 0,
        performance_score=stats.performance_score if stats else 0.0,
    )


async def of_job(*, session: AsyncSession, job_id: int) -> ReviewOut | None:
    """The review of a job, if it has one."""
    review_id = await session.scalar(select(Review.id).where(Review.job_id == job_id))
    return None if review_id is None else await _present(session, review_id)


@dataclass(frozen=True)
class Bidder:
    """What a homeowner weighs a bid by besides its amount."""

    id: int
    full_name: str
    rating_avg: float
    rating_count: int
    jobs_completed: int


async def bidders(*, session: AsyncSession, contractor_ids: list[int]) -> dict[int, Bidder]:
    """Name and record of each contractor in ``contractor_ids``, in one statement."""
    if not contractor_ids:
        return {}
    rows = await session.execute(
        select(
            User.id,
            User.full_name,
            func.coalesce(ContractorStats.rating_avg, 0),
            func.coalesce(ContractorStats.rating_count, 0),
            func.coalesce(ContractorStats.jobs_completed, 0),
        )
        .outerjoin(ContractorStats, ContractorStats.contractor_id == User.id)
        .where(User.id.in_(contractor_ids))
    )
    return {row[0]: Bidder(*row) for row in rows}


_OF_CONTRACTOR = Keyset(
    select(*_REVIEW_COLUMNS)
    .join(User, User.id == Review.homeowner_id)
    .where(Review.contractor_id == bindparam("contractor_id")),
    Review.created_at.desc(),
    Review.id.desc(),
)


async def of_contractor(
    *, session: AsyncSession, contractor_id: int, page: PageParams
) -> tuple[list[ReviewOut], str | None]:
    """A contractor's reviews, newest first, by keyset on (created_at, id)."""
    await _contractor(session, contractor_id)
    rows, next_cursor = await _OF_CONTRACTOR.page(
        session, page.cursor, page.limit, contractor_id=contractor_id
    )
    return [ReviewOut.model_validate(dict(row)) for row in rows], next_cursor
