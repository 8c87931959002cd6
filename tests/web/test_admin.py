"""An admin's page: the launch switches and operator applications, through the forms."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.models import User
from ftw.core.audit import AuditEntry
from ftw.core.switches import Switch
from tests.conftest import PASSWORD
from tests.web.conftest import JOB, Browser


async def signed_in_admin(browser: Browser, session: AsyncSession) -> int:
    """Sign-up cannot make an admin: one is promoted in the database, then signs in."""
    email = await browser.sign_up()
    admin_id = await session.scalar(select(User.id).where(User.email == email))
    await session.execute(update(User).where(User.id == admin_id).values(role="admin"))
    signed_in = await browser.post("/signin", {"email": email, "password": PASSWORD})
    assert signed_in.headers["location"] == "/admin"
    assert admin_id is not None
    return admin_id


async def _switch(session: AsyncSession) -> tuple[bool, str | None] | None:
    row = await session.scalar(
        select(Switch).where(Switch.name == "job_posting").execution_options(populate_existing=True)
    )
    return None if row is None else (row.enabled, row.message)


async def test_an_admin_turns_job_posting_off_and_the_homeowner_form_says_why(
    browser_factory: Callable[[], Browser], session: AsyncSession
) -> None:
    admin, home = browser_factory(), browser_factory()
    admin_id = await signed_in_admin(admin, session)
    before = await _switch(session)  # another test of this worker may have left a row
    page = await admin.get("/admin")
    assert page.status_code == 200
    assert 'href="/ops/live"' in page.text
    assert 'action="/admin/switches/job_posting"' in page.text
    assert "Turn off" in page.text

    too_long = await admin.post("/admin/switches/job_posting", {"on": "false", "message": "x" * 501})
    assert too_long.status_code == 422
    assert 'id="e-message-job_posting">Too long: at most 500 characters' in too_long.text
    assert await _switch(session) == before, "nothing written"

    message = "Posting is paused for ten minutes."
    off = await admin.post("/admin/switches/job_posting", {"on": "false", "message": message})
    assert off.status_code == 303
    entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "admin.switch_changed"))
    assert entry is not None
    assert (entry.actor_id, entry.target, entry.data["via"]) == (admin_id, "switch:job_posting", "web")
    listed = await admin.get("/admin")
    assert message in listed.text

    await home.sign_up()
    refused = await home.post("/jobs/new", JOB)
    assert refused.status_code == 503
    assert message in refused.text
    assert JOB["title"] in refused.text

    on = await admin.post("/admin/switches/job_posting", {"on": "true", "message": ""})
    assert on.status_code == 303
    assert (await home.post("/jobs/new", JOB)).status_code == 303


async def test_maintenance_is_turned_off_from_the_page_it_blocks(
    browser_factory: Callable[[], Browser], session: AsyncSession
) -> None:
    admin = browser_factory()
    await signed_in_admin(admin, session)
    assert (
        await admin.post("/admin/switches/maintenance", {"on": "true", "message": "Back at 3."})
    ).status_code == 303
    assert "Back at 3." in (await admin.get("/admin")).text
    assert (await admin.post("/admin/switches/maintenance", {"on": "false"})).status_code == 303
    assert "Back at 3." not in (await admin.get("/")).text
    assert (await admin.post("/admin/switches/no_such_switch", {"on": "false"})).status_code == 404


async def test_an_admin_approves_one_application_and_refuses_another(
    browser_factory: Callable[[], Browser], session: AsyncSession
) -> None:
    admin, keen, doubtful = browser_factory(), browser_factory(), browser_factory()
    keen_email, doubtful_email = await keen.sign_up("operator"), await doubtful.sign_up("operator")
    ids = {
        e: await session.scalar(select(User.id).where(User.email == e)) for e in (keen_email, doubtful_email)
    }
    await signed_in_admin(admin, session)
    waiting = await admin.get("/admin")
    assert keen_email in waiting.text
    assert doubtful_email in waiting.text

    approved = await admin.post(f"/admin/operators/{ids[keen_email]}/approve")
    assert approved.status_code == 303
    refused = await admin.post(f"/admin/operators/{ids[doubtful_email]}/refuse")
    assert refused.status_code == 303
    after = await admin.get("/admin")
    assert keen_email not in after.text
    assert doubtful_email not in after.text
    assert "No application is waiting" in after.text

    assert (await keen.post("/counties/36061/claim")).status_code == 303, "approved: it claims"
    doubtful.client.cookies.delete("ftw_access")
    assert (await doubtful.get("/territory")).status_code == 303, "refused: signed out for good"
    again = await admin.post(f"/admin/operators/{ids[keen_email]}/refuse")
    assert again.status_code == 409
    assert "already approved" in again.text


async def test_the_admin_page_is_for_admins_only(browser_factory: Callable[[], Browser]) -> None:
    stranger, operator = browser_factory(), browser_factory()
    assert (await stranger.get("/admin")).status_code == 303
    await operator.sign_up("operator")
    assert (await operator.get("/admin")).status_code == 403
    assert (await operator.post("/admin/switches/job_posting", {"on": "false"})).status_code == 403
