"""CRM rules: customers appear when a bid is accepted and grow with paid invoices."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.crm.models import Customer, Stage


async def on_award(session: AsyncSession, *, contractor_id: int, homeowner_id: int, job_id: int) -> int:
    """Create the contractor's customer once (unique per pair); a repeat customer counts a job."""
    now = datetime.now(UTC)
    statement = (
        insert(Customer)
        .values(
            contractor_id=contractor_id,
            homeowner_id=homeowner_id,
            first_job_id=job_id,
            stage=Stage.ACTIVE.value,
            last_interaction_at=now,
        )
        .on_conflict_do_update(
            index_elements=[Customer.contractor_id, Customer.homeowner_id],
            set_={
                "jobs_count": Customer.jobs_count + 1,
                "stage": Stage.ACTIVE.value,
                "last_interaction_at": now,
                "updated_at": now,
            },
        )
        .returning(Customer.id)
    )
    customer_id = await session.scalar(statement)
    assert customer_id is not None
    return customer_id


async def on_invoice_paid(
    session: AsyncSession, *, contractor_id: int, homeowner_id: int, amount_cents: int
) -> None:
    """Lifetime value grows by what the customer actually paid."""
    await session.execute(
        update(Customer)
        .where(Customer.contractor_id == contractor_id, Customer.homeowner_id == homeowner_id)
        .values(
            lifetime_value_cents=Customer.lifetime_value_cents + amount_cents, updated_at=datetime.now(UTC)
        )
    )
