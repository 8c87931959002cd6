"""Real concurrent requests on separate connections, each committing, cleaned up afterwards.

The app here runs on the engine itself (``committing_client``), not on the test's
rolled-back transaction, so the requests race in PostgreSQL exactly as in production.
"""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ftw.billing.ledger import check
from ftw.billing.models import Payment
from ftw.jobs.models import Job
from tests.conftest import SignUp
from tests.support.market import CountingSandbox, accept, market, place_bid


async def _payments(engine: AsyncEngine, job_id: int) -> list[Payment]:
    async with AsyncSession(engine) as s:
        return list(await s.scalars(select(Payment).where(Payment.job_id == job_id)))


async def test_two_tabs_accepting_two_bids_at_once_award_one_and_charge_once(
    committing_client: httpx.AsyncClient,
    committed_sign_up: SignUp,
    engine: AsyncEngine,
    sandbox: CountingSandbox,
) -> None:
    deal = await market(committing_client, committed_sign_up)
    rival_bid = await place_bid(committing_client, await committed_sign_up("contractor"), deal.job)
    responses = await asyncio.gather(
        accept(committing_client, deal.homeowner, deal.bid),
        accept(committing_client, deal.homeowner, rival_bid),
    )
    assert sorted(r.status_code for r in responses) == [200, 409]
    winner = next(r for r in responses if r.status_code == 200).json()
    assert len(sandbox.charges) == 1
    [payment] = await _payments(engine, deal.job["id"])
    assert (payment.status, payment.bid_id) == ("succeeded", winner["bid_id"])
    async with AsyncSession(engine) as s:
        assert await s.scalar(select(Job.status).where(Job.id == deal.job["id"])) == "awarded"
        assert (await check(s)).ok


async def test_the_same_accept_doubled_at_once_charges_once(
    committing_client: httpx.AsyncClient,
    committed_sign_up: SignUp,
    engine: AsyncEngine,
    sandbox: CountingSandbox,
) -> None:
    deal = await market(committing_client, committed_sign_up)
    responses = await asyncio.gather(
        *(accept(committing_client, deal.homeowner, deal.bid, key="double-click") for _ in range(3)),
        accept(committing_client, deal.homeowner, deal.bid),
    )
    assert [r.status_code for r in responses] == [200, 200, 200, 200]
    assert len({r.json()["payment"]["id"] for r in responses}) == 1
    assert len(sandbox.charges) == 1
    assert len(await _payments(engine, deal.job["id"])) == 1
