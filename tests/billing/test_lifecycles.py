"""Money lifecycles as the API and the books see them: a payment's status is its events'
conclusion (and is reconciled when a row says otherwise); a refused move writes nothing."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.billing import payments as charging
from ftw.billing.ledger import balance, check
from ftw.billing.models import Account, Payment, PaymentStatus
from ftw.core.audit import AuditEntry
from ftw.jobs.models import Job, JobStatus
from tests.conftest import SignUp
from tests.support.market import awarded


@pytest.mark.parametrize(
    ("kinds", "status"),
    [
        ([], "pending"),
        (["created", "attempt", "unavailable", "attempt", "unavailable"], "pending"),
        (["created", "attempt", "succeeded"], "succeeded"),
        (["created", "attempt", "succeeded", "refunded"], "succeeded"),  # a refunded job's charge
        (["created", "attempt", "declined"], "failed"),
        (["created", "attempt", "unavailable", "abandoned"], "failed"),
        # Given up, but the timed-out attempt had been taken: refunded, then failed.
        (["created", "attempt", "unavailable", "succeeded", "refunded", "superseded"], "failed"),
    ],
)
def test_a_payment_status_is_the_conclusion_of_its_events(kinds: list[str], status: str) -> None:
    assert charging.derive(kinds) == status


async def test_a_payment_whose_status_disagrees_with_its_events_is_reconciled(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    deal = await awarded(client, sign_up)
    payment = await session.scalar(select(Payment).where(Payment.job_id == deal.job["id"]))
    assert payment is not None
    assert payment.status is PaymentStatus.SUCCEEDED
    await session.execute(  # written around the event log: a hand fix, an import
        update(Payment).where(Payment.id == payment.id).values(status=PaymentStatus.PENDING)
    )
    await session.refresh(payment)
    report = await check(session)
    assert f"✗ payment {payment.id} is pending but its events say succeeded" in report.lines

    assert await charging.reconcile(session, payment) is PaymentStatus.SUCCEEDED
    await session.flush()
    await session.refresh(payment)
    assert payment.status is PaymentStatus.SUCCEEDED
    audited = await session.scalar(select(AuditEntry).where(AuditEntry.target == f"payment:{payment.id}"))
    assert audited is not None
    assert (audited.action, audited.data) == ("payment.reconciled", {"was": "pending", "now": "succeeded"})
    assert (await check(session)).ok
    assert await charging.reconcile(session, payment) is PaymentStatus.SUCCEEDED  # nothing to do twice


async def test_a_move_the_table_refuses_is_a_409_that_writes_nothing(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    deal = await awarded(client, sign_up)
    job_id = deal.job["id"]
    held = await balance(session, account=Account.ESCROW, owner_id=job_id)
    # Completing a job its contractor has not started: awarded -> completed is not declared.
    refused = await client.post(f"/api/v1/jobs/{job_id}/complete", headers=deal.homeowner.headers)
    assert refused.status_code == 409
    assert refused.json()["detail"] == "A job that is awarded cannot become completed"
    job = await session.get(Job, job_id, populate_existing=True)
    assert job is not None
    assert job.status is JobStatus.AWARDED
    assert await balance(session, account=Account.ESCROW, owner_id=job_id) == held  # nothing released
    # The contractor may start it; the homeowner may not (403, still nothing written).
    wrong = await client.post(f"/api/v1/jobs/{job_id}/start", headers=deal.homeowner.headers)
    assert wrong.status_code == 403
    assert (await session.get_one(Job, job_id, populate_existing=True)).status is JobStatus.AWARDED
