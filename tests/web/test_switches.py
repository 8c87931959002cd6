"""Launch switches through the pages: a switched-off feature and maintenance mode refuse the
forms as they refuse the API, with the admin's message, and nothing is written."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.jobs.models import Job
from tests.web.conftest import JOB, Browser


async def _set(client: Any, admin: dict[str, str], name: str, on: bool, message: str) -> None:
    answer = await client.put(
        f"/api/v1/admin/switches/{name}", json={"on": on, "message": message}, headers=admin
    )
    assert answer.status_code == 200, answer.text


async def test_posting_switched_off_refuses_the_form_with_the_message_and_keeps_it(
    client: Any, admin: dict[str, str], browser: Browser, session: AsyncSession
) -> None:
    await _set(client, admin, "job_posting", False, "Posting is paused while we fix a bug.")
    await browser.sign_up("homeowner")
    before = await session.scalar(select(func.count()).select_from(Job))
    refused = await browser.post("/jobs/new", JOB)
    assert refused.status_code == 503
    assert "Posting is paused while we fix a bug." in refused.text
    assert JOB["title"] in refused.text  # the form keeps what was typed
    assert await session.scalar(select(func.count()).select_from(Job)) == before
    assert (await browser.get("/counties/36061")).status_code == 200  # reading goes on


async def test_maintenance_refuses_sign_up_through_the_page_and_every_page_says_so(
    client: Any, admin: dict[str, str], browser: Browser
) -> None:
    await _set(client, admin, "maintenance", True, "Upgrading the database until 03:00 UTC.")
    form = {"full_name": "Pat Late", "email": "late@example.com", "password": "a long enough password"}
    refused = await browser.post("/signup", {**form, "role": "homeowner", "zip": "10001"})
    assert refused.status_code == 503
    assert "Upgrading the database until 03:00 UTC." in refused.text
    assert "late@example.com" in refused.text
    landing = await browser.get("/")
    assert landing.status_code == 200  # reading goes on, under the notice
    assert "Upgrading the database until 03:00 UTC." in landing.text
