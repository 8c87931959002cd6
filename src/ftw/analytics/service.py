"""Analytics counters written on the hot path (one upsert each)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.analytics.models import JobStats


async def record_bid(session: AsyncSession, *, job_id: int, at: datetime) -> None:
    statement = insert(JobStats).values(job_id=job_id, bids=1, first_bid_at=at)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[JobStats.job_id],
            set_={"bids": JobStats.bids + 1, "first_bid_at": func.coalesce(JobStats.first_bid_at, at)},
        )
    )


async def record_view(session: AsyncSession, *, job_id: int) -> None:
    statement = insert(JobStats).values(job_id=job_id, views=1)
    await session.execute(
        statement.on_conflict_do_update(index_elements=[JobStats.job_id], set_={"views": JobStats.views + 1})
    )
