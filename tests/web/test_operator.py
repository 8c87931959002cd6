"""An operator claims a county through the pages and sees it on its dashboard."""

from __future__ import annotations

from tests.web.conftest import JOB


async def test_an_operator_claims_a_county_and_sees_its_jobs(browser_factory) -> None:  # type: ignore[no-untyped-def]
    home, operator, rival = browser_factory(), browser_factory(), browser_factory()
    await home.sign_up()
    job_id = await home.post_job()
    await operator.sign_up("operator")
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
    assert "<svg" in dashboard.text
    assert "jobs posted</li>" in dashboard.text  # figures are rolled up daily by the worker
    second = await operator.post("/counties/36047/claim")
    assert second.status_code == 409
    assert "You already run a territory" in second.text

    await rival.sign_up("operator")
    taken = await rival.get("/counties/36061")
    assert "Run this county" not in taken.text
    late = await rival.post("/counties/36061/claim")
    assert late.status_code == 409
    assert "New York County, NY is already claimed" in late.text
    assert (await home.post("/counties/36047/claim")).status_code == 403
