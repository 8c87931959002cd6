"""Review rules and the contractor statistics they keep current."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.reviews.models import ContractorStats


async def on_job_completed(session: AsyncSession, *, contractor_id: int) -> None:
    statement = insert(ContractorStats).values(contractor_id=contractor_id, jobs_completed=1)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[ContractorStats.contractor_id],
            set_={"jobs_completed": ContractorStats.jobs_completed + 1, "updated_at": datetime.now(UTC)},
        )
    )
