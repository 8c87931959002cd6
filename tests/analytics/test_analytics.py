"""Analytics: job counters, contractor figures, the territory dashboard and daily roll-ups."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.analytics import service
from ftw.analytics import tasks as analytics_tasks
from ftw.analytics.models import DailyFigures
from ftw.app import create_app
from ftw.bids.events import BidPlaced
from ftw.billing.models import LedgerEntry
from ftw.config import Settings
from ftw.core import tasks
from ftw.core.db import Database
from ftw.jobs.models import Job, JobStatus
from ftw.reviews.models import ContractorStats
from ftw.territories.models import Territory
from ftw.worker import Registry, drain
from tests.conftest import Account
from tests.support.market import headers_as, make_user, post_job, recording_integrations, write_bid

COUNTY = "31005"  # Arthur County, NE: a county no other test posts jobs in


async def _ledger(
    session: AsyncSession, kind: str, *entries: tuple[str, int | None, int], job_id: int | None = None
) -> None:
    """One balanced ledger transaction of (account, owner, cents) entries."""
    assert sum(cents for _, _, cents in entries) == 0
    txn = uuid.uuid4()
    session.add_all(
        LedgerEntry(txn_id=txn, account=account, owner_id=owner, amount_cents=cents, kind=kind, job_id=job_id)
        for account, owner, cents in entries
    )
    await session.flush()


async def _release(
    session: AsyncSession,
    job_id: int,
    contractor_id: int,
    operator_id: int | None,
    *,
    bid: int = 10_000,
    fee: int = 2_000,
) -> None:
    """Escrow released at completion: the bid to the contractor, the fee shared out."""
    share = fee // 10 if operator_id else 0
    entries = [
        ("escrow", job_id, -(bid + fee)),
        ("contractor", contractor_id, bid),
        ("platform", None, fee - share),
    ]
    if share:
        entries.append(("operator", operator_id, share))
    await _ledger(session, "release", *entries, job_id=job_id)


async def test_job_counters_and_time_to_first_bid(
    session: AsyncSession, settings: Settings, database: Database
) -> None:
    app = create_app(settings, database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        homeowner = await make_user(session, settings)
        visitor = await make_user(session, settings, "contractor")
        job = await post_job(client, homeowner)
        posted = datetime.fromisoformat(job["created_at"])
        for headers in ({}, visitor.headers, visitor.headers, homeowner.headers):
            assert (await client.get(f"/api/v1/jobs/{job['id']}", headers=headers)).status_code == 200
        # The views wait in the process until the next flush; the homeowner's own is not one.
        await app.state.views.flush(database)
        await app.state.views.flush(database)  # nothing new: nothing more is added
        await service.record_bid(session, BidPlaced(job_id=job["id"], at=posted + timedelta(minutes=7)))
        await service.record_bid(session, BidPlaced(job_id=job["id"], at=posted + timedelta(minutes=30)))
        figures = await client.get(f"/api/v1/analytics/jobs/{job['id']}", headers=homeowner.headers)
    assert figures.status_code == 200
    assert figures.json() | {"first_bid_at": None} == {
        "job_id": job["id"],
        "views": 3,
        "bids": 2,
        "first_bid_at": None,
        "time_to_first_bid_s": 420.0,
    }


async def test_job_figures_are_for_the_homeowner_the_operator_and_admins(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    homeowner = await make_user(session, settings)
    job = await post_job(client, homeowner, territory_fips=COUNTY)
    operator = await make_user(session, settings, "operator")
    await session.execute(update(Territory).where(Territory.fips == COUNTY).values(operator_id=operator.id))
    url = f"/api/v1/analytics/jobs/{job['id']}"
    fresh = await client.get(url, headers=operator.headers)
    assert fresh.status_code == 200
    assert (fresh.json()["views"], fresh.json()["bids"], fresh.json()["time_to_first_bid_s"]) == (0, 0, None)
    assert (await client.get(url, headers=headers_as(settings, operator.id + 1, "admin"))).status_code == 200
    for role in ("homeowner", "contractor", "operator"):
        outsider = await make_user(session, settings, role)
        assert (await client.get(url, headers=outsider.headers)).status_code == 403, role
    assert (await client.get(url)).status_code == 401
    assert (
        await client.get("/api/v1/analytics/jobs/999999999", headers=homeowner.headers)
    ).status_code == 404


async def test_contractor_figures(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    homeowner = await make_user(session, settings)
    contractor = await make_user(session, settings, "contractor")
    rival = await make_user(session, settings, "contractor")
    outcomes = ["accepted", "rejected", "pending", "withdrawn"]
    for minutes, status in zip((10, 20, 30, 40), outcomes, strict=True):
        job = await post_job(client, homeowner)
        bid = await write_bid(session, job["id"], contractor, status=status)
        bid.created_at = datetime.fromisoformat(job["created_at"]) + timedelta(minutes=minutes)
        await write_bid(session, job["id"], rival)
    old_job = await post_job(client, homeowner)
    old = await write_bid(session, old_job["id"], contractor, status="accepted")
    old.created_at = datetime.now(UTC) - timedelta(days=40)  # outside the 30-day window
    await session.flush()
    await _release(session, old_job["id"], contractor.id, None, bid=11_000)
    paid = [("card", homeowner.id, -5_000), ("contractor", contractor.id, 5_000)]
    await _ledger(session, "invoice_payment", *paid, job_id=old_job["id"])
    await _ledger(session, "payout", ("contractor", contractor.id, -3_000), ("bank", contractor.id, 3_000))
    await _ledger(session, "invoice_payment", ("card", homeowner.id, -700), ("contractor", rival.id, 700))
    session.add(
        ContractorStats(
            contractor_id=contractor.id, rating_count=2, rating_sum=9, rating_avg=4.5, performance_score=61.5
        )
    )
    await session.flush()

    response = await client.get("/api/v1/analytics/contractor", headers=contractor.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "days": 30,
        "bids_placed": 4,
        "bids_won": 1,
        "bids_lost": 1,
        "bids_pending": 1,
        "win_rate": 0.5,
        "median_response_s": 1_500.0,
        "escrow_released_cents": 11_000,
        "invoices_paid_cents": 5_000,
        "revenue_cents": 16_000,
        "rating_avg": 4.5,
        "rating_count": 2,
        "performance_score": 61.5,
    }
    longer = (
        await client.get("/api/v1/analytics/contractor", params={"days": 60}, headers=contractor.headers)
    ).json()
    assert (longer["bids_placed"], longer["bids_won"]) == (5, 2)


async def test_a_new_contractor_has_empty_figures(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    contractor = await make_user(session, settings, "contractor")
    figures = (await client.get("/api/v1/analytics/contractor", headers=contractor.headers)).json()
    assert (
        figures["bids_placed"],
        figures["win_rate"],
        figures["median_response_s"],
        figures["revenue_cents"],
    ) == (
        0,
        None,
        None,
        0,
    )


async def test_contractor_figures_are_for_contractors(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    homeowner = await make_user(session, settings)
    assert (await client.get("/api/v1/analytics/contractor", headers=homeowner.headers)).status_code == 403
    assert (await client.get("/api/v1/analytics/contractor")).status_code == 401
    contractor = await make_user(session, settings, "contractor")
    for days in (0, 367, "a"):
        bad = await client.get(
            "/api/v1/analytics/contractor", params={"days": days}, headers=contractor.headers
        )
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "days"


async def _arrange_county(client: httpx.AsyncClient, session: AsyncSession, settings: Settings) -> Account:
    """Arthur County with an operator: two jobs posted today (one completed, its escrow
    released), three bids by two contractors; one more job and bid in New York County,
    and an instant-payout fee tied to no job."""
    operator = await make_user(session, settings, "operator")
    await session.execute(update(Territory).where(Territory.fips == COUNTY).values(operator_id=operator.id))
    homeowner = await make_user(session, settings)
    contractors = [await make_user(session, settings, "contractor") for _ in range(2)]
    first = await post_job(client, homeowner, territory_fips=COUNTY)
    second = await post_job(client, homeowner, territory_fips=COUNTY)
    elsewhere = await post_job(client, homeowner)
    await write_bid(session, first["id"], contractors[0], status="accepted")
    await write_bid(session, first["id"], contractors[1], status="rejected")
    await write_bid(session, second["id"], contractors[1])
    await write_bid(session, elsewhere["id"], contractors[0])
    await session.execute(update(Job).where(Job.id == first["id"]).values(status=JobStatus.COMPLETED.value))
    await _release(session, first["id"], contractors[0].id, operator.id)
    await _ledger(session, "payout", ("contractor", contractors[0].id, -500), ("platform", None, 500))
    return operator


@pytest.fixture
async def county(client: httpx.AsyncClient, session: AsyncSession, settings: Settings) -> Account:
    return await _arrange_county(client, session, settings)


async def _today(session: AsyncSession, fips: str) -> DailyFigures | None:
    return await session.scalar(
        select(DailyFigures)
        .where(DailyFigures.territory_fips == fips, DailyFigures.day == datetime.now(UTC).date())
        .execution_options(populate_existing=True)
    )


def _counts(figures: DailyFigures | None) -> tuple[int, int, int, int, int]:
    if figures is None:
        return (0, 0, 0, 0, 0)
    return (
        figures.jobs_posted,
        figures.jobs_completed,
        figures.bids,
        figures.active_users,
        figures.revenue_cents,
    )


async def _roll_up_today(session: AsyncSession) -> None:
    today = datetime.now(UTC).date()
    await service.roll_up(session=session, first=today, last=today)


async def test_the_roll_up_counts_each_territory_and_the_platform(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    await _roll_up_today(session)
    before = _counts(await _today(session, ""))  # other tests' committed data, if any
    await _arrange_county(client, session, settings)
    await _roll_up_today(session)
    assert _counts(await _today(session, COUNTY)) == (2, 1, 3, 3, 2_000)
    after = _counts(await _today(session, ""))
    # 3 jobs, 1 completed, 4 bids, 3 new active users; fees: 2,000 released + 500 instant payout
    assert tuple(a - b for a, b in zip(after, before, strict=True)) == (3, 1, 4, 3, 2_500)


async def test_the_daily_roll_up_is_idempotent(session: AsyncSession, county: Account) -> None:
    await _roll_up_today(session)
    first = _counts(await _today(session, COUNTY))
    await _roll_up_today(session)
    assert _counts(await _today(session, COUNTY)) == first == (2, 1, 3, 3, 2_000)
    assert await session.scalar(select(func.count()).where(DailyFigures.territory_fips == COUNTY)) == 1


async def test_the_roll_up_task_recomputes_yesterday_and_today(
    session: AsyncSession, settings: Settings, database: Database, county: Account
) -> None:
    await tasks.enqueue(session, analytics_tasks.ROLL_UP, {})
    integrations, _, _ = recording_integrations(settings)
    assert await drain(database, settings, integrations, registry=Registry(analytics_tasks.TASKS)) == 1
    assert _counts(await _today(session, COUNTY)) == (2, 1, 3, 3, 2_000)


async def test_the_operator_sees_its_territory(
    client: httpx.AsyncClient, session: AsyncSession, county: Account
) -> None:
    operator = county
    await _roll_up_today(session)
    response = await client.get(f"/api/v1/analytics/territory/{COUNTY}", headers=operator.headers)
    assert response.status_code == 200, response.text
    figures = response.json()
    assert figures["totals"] == {"jobs_posted": 2, "jobs_completed": 1, "bids": 3, "revenue_cents": 2_000}
    assert figures["active_contractors"] == 2
    assert figures["operator_earnings_cents"] == 200
    assert len(figures["daily"]) == 30
    assert figures["daily"][0]["day"] == datetime.now(UTC).date().isoformat()
    assert figures["daily"][0]["bids"] == 3
    assert all(d["bids"] == 0 for d in figures["daily"][1:])
    week = (
        await client.get(
            f"/api/v1/analytics/territory/{COUNTY}", params={"days": 7}, headers=operator.headers
        )
    ).json()
    assert len(week["daily"]) == 7


async def test_only_the_territorys_operator_and_admins_see_it(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, county: Account
) -> None:
    operator = county
    url = f"/api/v1/analytics/territory/{COUNTY}"
    admin = headers_as(settings, operator.id, "admin")
    assert (await client.get(url, headers=admin)).status_code == 200
    for role in ("operator", "contractor", "homeowner"):
        other = await make_user(session, settings, role)
        assert (await client.get(url, headers=other.headers)).status_code == 403, role
    assert (await client.get(url)).status_code == 401
    assert (
        await client.get("/api/v1/analytics/territory/99999", headers=operator.headers)
    ).status_code == 404
    bad = await client.get("/api/v1/analytics/territory/abc", headers=operator.headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "fips"


async def test_platform_figures_are_for_admins(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, county: Account
) -> None:
    operator = county
    await _roll_up_today(session)
    admin = headers_as(settings, operator.id, "admin")
    response = await client.get("/api/v1/analytics/platform", params={"days": 3}, headers=admin)
    assert response.status_code == 200
    figures = response.json()
    assert len(figures["daily"]) == 3
    assert figures["totals"]["jobs_posted"] >= 3
    assert figures["totals"]["revenue_cents"] >= 2_500
    assert (await client.get("/api/v1/analytics/platform", headers=operator.headers)).status_code == 403
    assert (await client.get("/api/v1/analytics/platform")).status_code == 401
