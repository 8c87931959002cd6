"""Analytics: counters written on the hot path, the daily roll-up, and the read-only figures.

Reads take whatever session they are given; the routes give them the analytics session,
which the next issue points at a read replica. Every figure is aggregated in SQL.

Definitions (days are UTC):
- jobs posted / bids: by creation time; jobs completed: by the time the job last changed
  while completed (a completed job changes no more), so its completion time;
- active users of a day: distinct homeowners who posted and contractors who bid;
- revenue: platform fees credited to the platform and operator accounts when a job's
  escrow is released (territory: jobs of that county; platform: every fee, boosts and
  instant-payout fees included).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import BigInteger, BindParameter, DateTime, bindparam, func, select, text, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.models import Role, User
from ftw.analytics.models import DailyFigures, JobStats
from ftw.analytics.schemas import (
    ContractorFigures,
    CountyContractor,
    DayFigures,
    DayResponse,
    JobFigures,
    PlatformFigures,
    TerritoryFigures,
    Totals,
)
from ftw.bids.events import BidPlaced
from ftw.bids.models import Bid, BidStatus
from ftw.billing.ledger import Kind
from ftw.billing.models import Account, LedgerEntry
from ftw.core.errors import Forbidden, NotFound
from ftw.core.pagination import Keyset, PageParams
from ftw.core.query import Query
from ftw.core.security import AccessClaims
from ftw.jobs.models import Job
from ftw.reviews.models import ContractorStats
from ftw.territories.models import Territory

PLATFORM = ""  # the territory_fips of platform-wide daily figures


async def record_bid(session: AsyncSession, bid: BidPlaced) -> None:
    """A job's bid count and first bid, kept as its bids are placed."""
    statement = insert(JobStats).values(job_id=bid.job_id, bids=1, first_bid_at=bid.at)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[JobStats.job_id],
            set_={"bids": JobStats.bids + 1, "first_bid_at": func.coalesce(JobStats.first_bid_at, bid.at)},
        )
    )


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _window(days: int) -> tuple[date, datetime]:
    """The first day of a window of ``days`` days ending today, and when it starts."""
    first = datetime.now(UTC).date() - timedelta(days=days - 1)
    return first, _start_of(first)


async def job_figures(*, session: AsyncSession, principal: AccessClaims, job_id: int) -> JobFigures:
    """For the job's homeowner, the operator of its territory, and admins."""
    row = (
        await session.execute(
            select(
                Job.id,
                Job.homeowner_id,
                Job.created_at,
                Territory.operator_id,
                func.coalesce(JobStats.views, 0).label("views"),
                func.coalesce(JobStats.bids, 0).label("bids"),
                JobStats.first_bid_at,
            )
            .join(Territory, Territory.fips == Job.territory_fips)
            .outerjoin(JobStats, JobStats.job_id == Job.id)
            .where(Job.id == job_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"No job {job_id}")
    if principal.role != Role.ADMIN and principal.user_id not in (row.homeowner_id, row.operator_id):
        raise Forbidden("Only the job's homeowner and its territory's operator see its figures")
    first_bid = (row.first_bid_at - row.created_at).total_seconds() if row.first_bid_at else None
    return JobFigures(
        job_id=row.id,
        views=row.views,
        bids=row.bids,
        first_bid_at=row.first_bid_at,
        time_to_first_bid_s=first_bid,
    )


def _contractor_query() -> Query:
    contractor_id = bindparam("contractor_id", type_=BigInteger)
    since = bindparam("since", type_=DateTime(timezone=True))
    response_s = func.extract("epoch", Bid.created_at - Job.created_at)
    bids = (
        select(
            func.count().label("placed"),
            func.count().filter(Bid.status == BidStatus.ACCEPTED.value).label("won"),
            func.count().filter(Bid.status == BidStatus.REJECTED.value).label("lost"),
            func.count().filter(Bid.status == BidStatus.PENDING.value).label("pending"),
            func.percentile_cont(0.5).within_group(response_s).label("median_response_s"),
        )
        .select_from(Bid)
        .join(Job, Job.id == Bid.job_id)
        .where(Bid.contractor_id == contractor_id, Bid.created_at >= since)
        .subquery()
    )
    credited = (
        select(
            func.coalesce(
                func.sum(LedgerEntry.amount_cents).filter(LedgerEntry.kind == Kind.RELEASE), 0
            ).label("released"),
            func.coalesce(
                func.sum(LedgerEntry.amount_cents).filter(LedgerEntry.kind == Kind.INVOICE_PAYMENT), 0
            ).label("invoiced"),
        )
        .where(
            LedgerEntry.account == Account.CONTRACTOR.value,
            LedgerEntry.owner_id == contractor_id,
            LedgerEntry.amount_cents > 0,
            LedgerEntry.created_at >= since,
        )
        .subquery()
    )
    stats = select(ContractorStats).where(ContractorStats.contractor_id == contractor_id).subquery()
    return Query(
        select(
            bids,
            credited,
            func.coalesce(stats.c.rating_avg, 0).label("rating_avg"),
            func.coalesce(stats.c.rating_count, 0).label("rating_count"),
            func.coalesce(stats.c.performance_score, 0).label("performance_score"),
        )
        .select_from(bids)
        .join(credited, true())
        .outerjoin(stats, true())
    )


_CONTRACTOR = _contractor_query()


async def contractor_figures(*, session: AsyncSession, contractor_id: int, days: int) -> ContractorFigures:
    """Bids, wins, response time, money credited and rating, in one statement."""
    _, since = _window(days)
    row = await _CONTRACTOR.row(session, contractor_id=contractor_id, since=since)
    assert row is not None  # aggregates always give a row
    decided = row["won"] + row["lost"]
    return ContractorFigures(
        days=days,
        bids_placed=row["placed"],
        bids_won=row["won"],
        bids_lost=row["lost"],
        bids_pending=row["pending"],
        win_rate=round(row["won"] / decided, 4) if decided else None,
        median_response_s=row["median_response_s"],
        escrow_released_cents=row["released"],
        invoices_paid_cents=row["invoiced"],
        revenue_cents=row["released"] + row["invoiced"],
        rating_avg=row["rating_avg"],
        rating_count=row["rating_count"],
        performance_score=row["performance_score"],
    )


async def _daily(session: AsyncSession, *, territory: str, days: int) -> tuple[list[DayFigures], Totals]:
    """One row per day of the window, newest first; days without activity are zeros."""
    first, _ = _window(days)
    stored = {
        f.day: DayFigures.model_validate(f)
        for f in await session.scalars(
            select(DailyFigures).where(DailyFigures.territory_fips == territory, DailyFigures.day >= first)
        )
    }
    daily = []
    for offset in range(days - 1, -1, -1):
        day = first + timedelta(days=offset)
        daily.append(stored.get(day) or DayFigures(day=day, jobs_posted=0, jobs_completed=0, bids=0,
                                                   active_users=0, revenue_cents=0))  # fmt: skip
    totals = Totals(
        jobs_posted=sum(d.jobs_posted for d in daily),
        jobs_completed=sum(d.jobs_completed for d in daily),
        bids=sum(d.bids for d in daily),
        revenue_cents=sum(d.revenue_cents for d in daily),
    )
    return daily, totals


async def territory_figures(
    *, session: AsyncSession, principal: AccessClaims, fips: str, days: int
) -> TerritoryFigures:
    """The operator's dashboard of its own county; admins may see any."""
    territory = await session.get(Territory, fips)
    if territory is None:
        raise NotFound(f"No county with FIPS {fips}")
    if principal.role != Role.ADMIN and territory.operator_id != principal.user_id:
        raise Forbidden("Only the operator of this territory sees its figures")
    _, since = _window(days)
    bidders = (
        select(func.count(func.distinct(Bid.contractor_id)))
        .join(Job, Job.id == Bid.job_id)
        .where(Job.territory_fips == fips, Job.created_at >= since)
        .scalar_subquery()
    )
    earnings = (
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
        .where(
            LedgerEntry.account == Account.OPERATOR.value,
            LedgerEntry.owner_id == territory.operator_id,
            LedgerEntry.created_at >= since,
        )
        .scalar_subquery()
    )
    live = (await session.execute(select(bidders.label("bidders"), earnings.label("earnings")))).one()
    daily, totals = await _daily(session, territory=fips, days=days)
    return TerritoryFigures(
        fips=fips,
        days=days,
        totals=totals,
        active_contractors=live.bidders,
        operator_earnings_cents=live.earnings,
        daily=daily,
    )


async def response_times(*, session: AsyncSession, fips: str, days: int) -> list[DayResponse]:
    """Per day of the window (oldest first), the median time from a county job's posting to
    its first bid, over that day's jobs that got one; live from ``job_stats``."""
    first, since = _window(days)
    day = func.date(func.timezone("UTC", Job.created_at))
    waited = func.extract("epoch", JobStats.first_bid_at - Job.created_at)
    rows = await session.execute(
        select(day.label("day"), func.count(), func.percentile_cont(0.5).within_group(waited))
        .join(JobStats, JobStats.job_id == Job.id)
        .where(Job.territory_fips == fips, Job.created_at >= since, JobStats.first_bid_at.is_not(None))
        .group_by(day)
    )
    found = {row[0]: (row[1], row[2]) for row in rows}
    out = []
    for offset in range(days):
        when = first + timedelta(days=offset)
        bid, median = found.get(when, (0, None))
        out.append(DayResponse(day=when, jobs_bid=bid, median_first_bid_s=median))
    return out


def _county_contractors() -> Keyset:
    fips: BindParameter[str] = bindparam("fips")
    since: BindParameter[datetime] = bindparam("since", type_=DateTime(timezone=True))
    answered = (
        select(
            Bid.contractor_id,
            func.count().label("bids"),
            func.percentile_cont(0.5)
            .within_group(func.extract("epoch", Bid.created_at - Job.created_at))
            .label("median_response_s"),
        )
        .join(Job, Job.id == Bid.job_id)
        .where(Job.territory_fips == fips, Bid.created_at >= since)
        .group_by(Bid.contractor_id)
        .subquery()
    )
    query = (
        select(
            User.id,
            User.full_name,
            User.is_available,
            func.coalesce(ContractorStats.rating_avg, 0).label("rating_avg"),
            func.coalesce(ContractorStats.rating_count, 0).label("rating_count"),
            func.coalesce(ContractorStats.jobs_completed, 0).label("jobs_completed"),
            func.coalesce(answered.c.bids, 0).label("bids"),
            answered.c.median_response_s,
        )
        .outerjoin(ContractorStats, ContractorStats.contractor_id == User.id)
        .outerjoin(answered, answered.c.contractor_id == User.id)
        .where(User.role == Role.CONTRACTOR, User.territory_fips == fips, User.is_active.is_(True))
    )
    return Keyset(query, User.id)


_COUNTY_CONTRACTORS = _county_contractors()


async def county_contractors(
    *, session: AsyncSession, fips: str, days: int, page: PageParams
) -> tuple[list[CountyContractor], str | None]:
    """The county's active contractors by id, with their rating and how they answered the
    county's jobs in the window: bids and median response, never amounts."""
    _, since = _window(days)
    rows, next_cursor = await _COUNTY_CONTRACTORS.page(
        session, page.cursor, page.limit, fips=fips, since=since
    )
    return [CountyContractor.model_validate(dict(row)) for row in rows], next_cursor


async def platform_figures(*, session: AsyncSession, days: int) -> PlatformFigures:
    daily, totals = await _daily(session, territory=PLATFORM, days=days)
    return PlatformFigures(days=days, totals=totals, daily=daily)


# One statement recomputes every (day, territory) row and the platform row of each day in
# [:start, :end): grouping sets give both from the same scan. Re-running it gives the
# same rows (upsert on the key), so the schedule may fire twice or overlap safely.
_ROLL_UP = text(
    """
    INSERT INTO daily_figures AS f
        (day, territory_fips, jobs_posted, jobs_completed, bids, active_users, revenue_cents, computed_at)
    SELECT e.day, coalesce(e.fips, ''),
           count(*) FILTER (WHERE e.kind = 'posted'),
           count(*) FILTER (WHERE e.kind = 'completed'),
           count(*) FILTER (WHERE e.kind = 'bid'),
           count(DISTINCT e.actor_id),
           coalesce(sum(e.cents), 0),
           now()
    FROM (
        SELECT 'posted' AS kind, (j.created_at AT TIME ZONE 'UTC')::date AS day,
               j.territory_fips AS fips, j.homeowner_id AS actor_id, 0::bigint AS cents
        FROM jobs j WHERE j.created_at >= :start AND j.created_at < :end
        UNION ALL
        SELECT 'completed', (j.updated_at AT TIME ZONE 'UTC')::date, j.territory_fips, NULL, 0
        FROM jobs j
        WHERE j.status = 'completed' AND j.updated_at >= :start AND j.updated_at < :end
        UNION ALL
        SELECT 'bid', (b.created_at AT TIME ZONE 'UTC')::date, j.territory_fips, b.contractor_id, 0
        FROM bids b JOIN jobs j ON j.id = b.job_id
        WHERE b.created_at >= :start AND b.created_at < :end
        UNION ALL
        SELECT 'revenue', (l.created_at AT TIME ZONE 'UTC')::date, j.territory_fips, NULL, l.amount_cents
        FROM ledger_entries l LEFT JOIN jobs j ON j.id = l.job_id
        WHERE l.account IN ('platform', 'operator') AND l.created_at >= :start AND l.created_at < :end
    ) AS e
    GROUP BY GROUPING SETS ((e.day, e.fips), (e.day))
    -- fees not tied to a job count for the platform only, not as a territory ''
    HAVING GROUPING(e.fips) = 1 OR e.fips IS NOT NULL
    ON CONFLICT (day, territory_fips) DO UPDATE SET
        jobs_posted = EXCLUDED.jobs_posted,
        jobs_completed = EXCLUDED.jobs_completed,
        bids = EXCLUDED.bids,
        active_users = EXCLUDED.active_users,
        revenue_cents = EXCLUDED.revenue_cents,
        computed_at = EXCLUDED.computed_at
    """
)


async def roll_up(*, session: AsyncSession, first: date, last: date) -> int:
    """Recompute the daily figures of ``first``..``last`` (inclusive); returns the rows written."""
    result = await session.execute(
        _ROLL_UP, {"start": _start_of(first), "end": _start_of(last + timedelta(days=1))}
    )
    return int(getattr(result, "rowcount", 0))
