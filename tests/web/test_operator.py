"""An operator claims a county through the pages and sees it on its dashboard."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.models import User
from ftw.analytics import service as analytics
from ftw.config import Settings
from ftw.core.db import Database
from ftw.web.operator import Chart
from tests.conftest import approve_operator
from tests.web.conftest import JOB, Browser


async def _user_id(session: AsyncSession, email: str) -> int:
    return (await session.execute(select(User.id).where(User.email == email))).scalar_one()


async def test_an_operator_claims_a_county_and_sees_its_jobs(
    browser_factory: Callable[[], Browser], session: AsyncSession, database: Database
) -> None:
    home, operator, rival = browser_factory(), browser_factory(), browser_factory()
    await home.sign_up()
    job_id = await home.post_job()
    email = await operator.sign_up("operator")
    unvetted = await operator.post("/counties/36061/claim")
    assert unvetted.status_code == 403
    assert "Your operator application awaits an admin" in unvetted.text
    await approve_operator(database, await _user_id(session, email))
    nothing = await operator.get("/territory")
    assert "You do not run a county yet" in nothing.text
    county = await operator.get("/counties/36061")
    assert "Run this county" in county.text
    assert "claims are free" in county.text
    claimed = await operator.post("/counties/36061/claim")
    assert claimed.status_code == 303
    assert claimed.headers["location"] == "/territory"
    dashboard = await operator.get("/territory")
    assert "New York County, NY" in dashboard.text
    assert "Claim #1" in dashboard.text
    assert f'href="/jobs/{job_id}"' in dashboard.text
    assert JOB["title"] in dashboard.text
    assert "No activity rolled up yet" in dashboard.text
    today = datetime.now(UTC).date()
    await analytics.roll_up(session=session, first=today, last=today)  # the worker's daily job
    rolled = await operator.get("/territory")
    assert "<strong>1</strong> jobs posted" in rolled.text
    assert re.search(r'<rect class="posted" [^>]*height="100\.0"', rolled.text), "today's bar is the peak"
    second = await operator.post("/counties/36047/claim")
    assert second.status_code == 409
    assert "You already run a territory" in second.text

    rival_email = await rival.sign_up("operator")
    await approve_operator(database, await _user_id(session, rival_email))
    taken = await rival.get("/counties/36061")
    assert "Run this county" not in taken.text
    late = await rival.post("/counties/36061/claim")
    assert late.status_code == 409
    assert "New York County, NY is already claimed" in late.text
    assert (await home.post("/counties/36047/claim")).status_code == 403


async def test_a_claim_past_the_free_ones_is_paid_with_the_card_form(
    browser_factory: Callable[[], Browser],
    session: AsyncSession,
    database: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings.territories, "free_claims", 0)
    operator = browser_factory()
    email = await operator.sign_up("operator")
    await approve_operator(database, await _user_id(session, email))
    county = await operator.get("/counties/36061")
    assert "Claim price $" in county.text
    assert 'name="card"' in county.text
    missing = await operator.post("/counties/36061/claim")
    assert missing.status_code == 422, "a priced claim without a card charges nothing"
    assert 'id="e-card">Enter the card number: this claim has a price' in missing.text
    declined = await operator.post("/counties/36061/claim", {"card": "4000 0000 0000 0002"})
    assert declined.status_code == 402
    assert "declined" in declined.text
    paid = await operator.post("/counties/36061/claim", {"card": "4242 4242 4242 4242"})
    assert paid.status_code == 303
    assert "New York County, NY" in (await operator.get("/territory")).text


async def test_the_dashboard_shows_the_county_contractors_and_charts_but_never_a_bid_amount(
    browser_factory: Callable[[], Browser], session: AsyncSession, database: Database
) -> None:
    home, pro, operator = browser_factory(), browser_factory(), browser_factory()
    await home.sign_up()
    job_id = await home.post_job()
    await pro.sign_up("contractor")
    amount = await pro.lowest(job_id)
    assert (await pro.bid(job_id)).status_code == 303
    email = await operator.sign_up("operator")
    await approve_operator(database, await _user_id(session, email))
    assert (await operator.post("/counties/36061/claim")).status_code == 303
    today = datetime.now(UTC).date()
    await analytics.roll_up(session=session, first=today, last=today)

    dashboard = await operator.get("/territory")
    assert dashboard.status_code == 200
    assert "Pat Contractor" in dashboard.text
    assert re.search(r"<td>1</td>\s*<td>\d+ min</td>", dashboard.text), "its bid and its response time"
    assert '<rect class="fees"' in dashboard.text
    assert re.search(r'<rect class="response" [^>]*height="100\.0"', dashboard.text), "today's first bid"
    assert f'href="/jobs/{job_id}"' in dashboard.text
    assert f"${amount}" not in dashboard.text
    assert f"${float(amount):,.2f}".replace(".00", "") not in dashboard.text, "blind until the award"
    awarded = await operator.get("/territory?status=awarded")
    assert "No awarded jobs right now" in awarded.text
    assert (await operator.get("/territory?status=nonsense")).status_code == 404


@pytest.mark.parametrize("seconds", [0.011033099297893681, 61.5, 5400.0])
def test_the_peak_day_fills_its_chart_and_the_others_scale_to_it(seconds: float) -> None:
    day = date(2026, 12, 1)
    chart = Chart.of("response", "t", [(day, seconds), (day, seconds / 3), (day, None)], str)
    assert [height for _, height, _ in chart.bars] == [100.0, 33.3, 0.0]
