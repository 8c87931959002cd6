"""Page tests: a browser-like client (cookies kept, redirects not followed) on the test app."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from ftw.app import create_app
from ftw.config import Settings
from ftw.core.db import Database
from tests.conftest import PASSWORD

JOB = {
    "title": "Leaking kitchen faucet",
    "description": "The kitchen faucet drips all day and the handle is loose at the base.",
    "trade": "plumbing",
    "zip": "10001",
    "urgency": "normal",
}


class Browser:
    """One person's browser: its cookies, and forms posted with the page's CSRF token."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    @property
    def csrf(self) -> str:
        return self.client.cookies.get("ftw_csrf") or ""

    async def get(self, url: str, **kwargs: object) -> httpx.Response:
        return await self.client.get(url, **kwargs)  # type: ignore[arg-type]

    async def post(self, url: str, data: dict[str, str] | None = None, **kwargs: object) -> httpx.Response:
        if not self.csrf:
            await self.client.get("/")
        return await self.client.post(url, data={"csrf_token": self.csrf, **(data or {})}, **kwargs)  # type: ignore[arg-type]

    async def sign_up(self, role: str = "homeowner", *, zip: str = "10001") -> str:
        email = f"{role}-{os.urandom(4).hex()}@example.com"
        form = {"full_name": f"Pat {role.title()}", "email": email, "password": PASSWORD, "role": role}
        answer = await self.post("/signup", {**form, "zip": zip})
        assert answer.status_code == 202, answer.text
        assert "Check your e-mail" in answer.text
        signed_in = await self.post("/signin", {"email": email, "password": PASSWORD})
        assert signed_in.status_code == 303, signed_in.text
        return email

    async def post_job(self, **fields: str) -> int:
        answer = await self.post("/jobs/new", {**JOB, **fields})
        assert answer.status_code == 303, answer.text
        found = re.match(r"/jobs/(\d+)", answer.headers["location"])
        assert found is not None
        return int(found[1])

    async def lowest(self, job_id: int) -> str:
        """The lowest amount the job's bid form allows, as the form shows it."""
        low = re.search(r"Between \$([\d,.]+)", (await self.get(f"/jobs/{job_id}")).text)
        assert low is not None, "the bid form shows the allowed band"
        return low[1].replace(",", "")

    async def bid(self, job_id: int, message: str = "Ready on Monday.") -> httpx.Response:
        """Bid the lowest amount the job's bid form allows."""
        amount = await self.lowest(job_id)
        return await self.post(f"/jobs/{job_id}/bids", {"amount": amount, "message": message})


@pytest.fixture
async def browser_factory(settings: Settings, database: Database) -> AsyncIterator[Callable[[], Browser]]:
    """Browsers on one app; each with its own cookies."""
    app = create_app(settings, database=database)
    clients: list[httpx.AsyncClient] = []

    def make() -> Browser:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        clients.append(client)
        return Browser(client)

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def browser(browser_factory: Callable[[], Browser]) -> Browser:
    return browser_factory()
