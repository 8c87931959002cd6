"""The ledger's invariants, and `reconcile` (ftw ledger check) finding what breaks them."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ftw.billing import ledger
from ftw.billing.ledger import Entry, Unbalanced, check, reconcile
from ftw.billing.models import Account, LedgerEntry, Payment
from ftw.billing.tasks import SCHEDULES, TASKS
from ftw.config import Settings
from ftw.core.db import Database
from ftw.integrations import Integrations
from ftw.integrations.context import TaskContext
from ftw.jobs.models import Job
from ftw.worker import collect
from tests.conftest import SignUp
from tests.support.market import accept, completed, market


async def test_a_transaction_must_sum_to_zero(session: AsyncSession) -> None:
    with pytest.raises(Unbalanced):
        await ledger.post(
            session,
            kind="broken",
            entries=[Entry(Account.CARD, 1, -100), Entry(Account.PLATFORM, None, 99)],
        )
    with pytest.raises(Unbalanced):
        await ledger.post(session, kind="empty", entries=[Entry(Account.PLATFORM, None, 0)])
    assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == 0


async def test_a_clean_ledger_reconciles(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    deal = await completed(client, sign_up)
    await client.post(
        "/api/v1/payouts", json={"amount_cents": 1_000, "speed": "instant"}, headers=deal.contractor.headers
    )
    report = await check(session)
    assert report.ok, report.lines
    assert len(report.lines) == 6
    assert all(line.startswith("✓") for line in report.lines)


async def _failures(session: AsyncSession) -> list[str]:
    report = await check(session)
    assert not report.ok
    return [line for line in report.lines if line.startswith("✗")]


async def test_an_unbalanced_transaction_is_reported(session: AsyncSession) -> None:
    txn = uuid.uuid4()
    await session.execute(
        insert(LedgerEntry),
        [
            {"txn_id": txn, "account": "card", "owner_id": None, "amount_cents": -500, "kind": "manual"},
            {"txn_id": txn, "account": "platform", "owner_id": None, "amount_cents": 505, "kind": "manual"},
        ],
    )
    assert f"✗ txn {txn} sums to 5" in await _failures(session)


async def test_a_negative_contractor_balance_is_reported(session: AsyncSession, sign_up: SignUp) -> None:
    contractor = await sign_up("contractor")
    await ledger.post(
        session,
        kind="manual",
        entries=[Entry(Account.CONTRACTOR, contractor.id, -1), Entry(Account.PLATFORM, None, 1)],
    )
    assert f"✗ contractor account of {contractor.id} is negative: -1" in await _failures(session)


async def test_a_captured_payment_without_its_entries_is_reported(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    deal = await market(client, sign_up)
    payment_id = (await accept(client, deal.homeowner, deal.bid)).json()["payment"]["id"]
    await session.execute(delete(LedgerEntry).where(LedgerEntry.payment_id == payment_id))
    failures = await _failures(session)
    assert any(line.startswith(f"✗ payment {payment_id} ") for line in failures)


async def test_escrow_left_on_a_completed_job_is_reported(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    deal = await market(client, sign_up)
    await accept(client, deal.homeowner, deal.bid)
    await session.execute(update(Job).where(Job.id == deal.job["id"]).values(status="completed"))
    assert any(f"job {deal.job['id']} is not in progress" in line for line in await _failures(session))


async def test_a_payout_that_does_not_match_its_entries_is_reported(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    deal = await completed(client, sign_up)
    payout = await client.post(
        "/api/v1/payouts", json={"amount_cents": 1_000}, headers=deal.contractor.headers
    )
    await session.execute(
        update(LedgerEntry)
        .where(LedgerEntry.payout_id == payout.json()["id"], LedgerEntry.account == "bank")
        .values(amount_cents=900)
    )
    await session.execute(
        update(LedgerEntry)
        .where(LedgerEntry.payout_id == payout.json()["id"], LedgerEntry.account == "contractor")
        .values(amount_cents=-900)
    )
    assert any(line.startswith(f"✗ payout {payout.json()['id']} ") for line in await _failures(session))


async def test_reconcile_reads_the_committed_database_on_its_own_connection(
    engine: AsyncEngine, settings: Settings, database_url: str
) -> None:
    before = await reconcile(database_url, settings)
    assert before.ok, before.lines
    txn = uuid.uuid4()
    async with AsyncSession(engine) as s:
        await s.execute(
            insert(LedgerEntry),
            [
                {"txn_id": txn, "account": "card", "owner_id": None, "amount_cents": -500, "kind": "manual"},
                {
                    "txn_id": txn,
                    "account": "platform",
                    "owner_id": None,
                    "amount_cents": 505,
                    "kind": "manual",
                },
            ],
        )
        await s.commit()
    try:
        after = await reconcile(database_url, settings)
        assert not after.ok
        assert f"✗ txn {txn} sums to 5" in after.lines
    finally:
        async with AsyncSession(engine) as s:
            await s.execute(delete(LedgerEntry).where(LedgerEntry.txn_id == txn))
            await s.commit()


def test_tasks_and_schedules_are_declared_for_the_worker() -> None:
    # The award charge's retry is billing's task, handled by bids (its flow retries the award).
    assert set(collect().tasks) >= {
        "billing.retry_payment",
        "billing.resolve_payout",
        "billing.sweep_pending_payments",
        "billing.invoice_reminders",
    }
    for expression, task in SCHEDULES:
        assert len(expression.split()) == 5
        assert task in TASKS


async def test_the_sweep_requeues_a_pending_charge_whose_task_was_lost(
    client: httpx.AsyncClient,
    sign_up: SignUp,
    session: AsyncSession,
    settings: Settings,
    database: Database,
    integrations: Integrations,
) -> None:
    deal = await market(client, sign_up)
    payment_id = (await accept(client, deal.homeowner, deal.bid, method="pm_provider_down")).json()[
        "payment"
    ]["id"]
    queued = text("SELECT payload FROM pgqueuer WHERE entrypoint = 'billing.retry_payment'")
    await session.execute(text("DELETE FROM pgqueuer WHERE entrypoint = 'billing.retry_payment'"))
    context = TaskContext(db=database, settings=settings, integrations=integrations)
    for _ in range(2):  # the second sweep finds the retry queued and adds none
        await TASKS["billing.sweep_pending_payments"](context, {})
    rows = list((await session.execute(queued)).scalars())
    assert len(rows) == 1
    assert b'"payment_id": %d' % payment_id in rows[0]
    assert (await session.get_one(Payment, payment_id)).status == "pending"
