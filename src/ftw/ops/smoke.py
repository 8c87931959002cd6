"""`ftw smoke URL`: the main journeys against a running instance, right after a deploy.

A throwaway homeowner and contractor sign up and sign in, browse their county, post a job,
bid on it and exchange a message; then the job is cancelled and everything they made is
deleted from the database (the command runs where the service's database URL is set, as
every `ftw` command of the runbook does). Each step is timed; the whole run is bounded.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import text

from ftw.config import Settings
from ftw.core.db import Database

ZIP, FIPS = "10001", "36061"  # New York County
PASSWORD = secrets.token_urlsafe(18)
JOB = {
    "title": "Smoke test job (please ignore)",
    "description": "Posted by the post-deploy smoke check and removed within a minute.",
    "trade": "plumbing",
    "zip": ZIP,
}
# What the two accounts made, child rows first.
CLEANUP = (
    "DELETE FROM notification_deliveries WHERE notification_id IN"
    " (SELECT id FROM notifications WHERE user_id = ANY(:users))",
    "DELETE FROM notifications WHERE user_id = ANY(:users)",
    "DELETE FROM thread_reads WHERE user_id = ANY(:users)"
    " OR thread_id IN (SELECT id FROM threads WHERE job_id = ANY(:jobs))",
    "DELETE FROM messages WHERE thread_id IN (SELECT id FROM threads WHERE job_id = ANY(:jobs))",
    "DELETE FROM threads WHERE job_id = ANY(:jobs)",
    "DELETE FROM bids WHERE job_id = ANY(:jobs) OR contractor_id = ANY(:users)",
    "DELETE FROM job_stats WHERE job_id = ANY(:jobs)",
    "DELETE FROM jobs WHERE id = ANY(:jobs)",
    "DELETE FROM contractor_stats WHERE contractor_id = ANY(:users)",
    "DELETE FROM users WHERE id = ANY(:users)",
)


class StepFailed(Exception):
    pass


@dataclass
class Step:
    name: str
    ok: bool
    ms: float
    detail: str = ""


@dataclass
class Run:
    """One smoke run: its steps and what it created (to remove)."""

    client: httpx.AsyncClient
    steps: list[Step] = field(default_factory=list)
    users: list[int] = field(default_factory=list)
    jobs: list[int] = field(default_factory=list)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)

    async def step(self, name: str, action: Callable[[], Awaitable[str]]) -> None:
        started = time.perf_counter()
        try:
            detail, ok = await action(), True
        except (StepFailed, httpx.HTTPError) as failure:
            detail, ok = str(failure) or type(failure).__name__, False
        self.steps.append(Step(name, ok, round((time.perf_counter() - started) * 1000, 1), detail))
        if not ok:
            raise StepFailed(name)

    async def call(self, method: str, path: str, expect: int, who: str | None = None, **kw: Any) -> Any:
        response = await self.client.request(method, path, headers=self.headers.get(who or "", {}), **kw)
        if response.status_code != expect:
            raise StepFailed(f"{method} {path}: {response.status_code} {response.text[:200]}")
        return response.json() if response.content else None


async def journey(url: str, *, timeout_s: float = 30.0) -> Run:
    """Sign up, sign in, browse, post, bid, message and cancel against ``url``."""
    tag = secrets.token_hex(4)
    async with httpx.AsyncClient(base_url=url.rstrip("/"), timeout=timeout_s / 3) as client:
        run = Run(client)
        deadline = time.monotonic() + timeout_s

        async def account(role: str) -> str:
            email = f"smoke-{role}-{tag}@example.com"
            body = {
                "email": email,
                "password": PASSWORD,
                "full_name": f"Smoke {role}",
                "role": role,
                "zip": ZIP,
            }
            await run.call("POST", "/api/v1/auth/signup", 202, json=body)
            tokens = await run.call(
                "POST", "/api/v1/auth/login", 200, json={"email": email, "password": PASSWORD}
            )
            run.headers[role] = {"Authorization": f"Bearer {tokens['access_token']}"}
            run.users.append((await run.call("GET", "/api/v1/me", 200, role))["id"])
            return email

        async def browse() -> str:
            page = await run.call("GET", f"/api/v1/jobs?territory={FIPS}", 200, "contractor")
            return f"{len(page['items'])} open jobs in {FIPS}"

        async def post() -> str:
            job = await run.call("POST", "/api/v1/jobs", 201, "homeowner", json=JOB)
            run.jobs.append(job["id"])
            return f"job {job['id']}, estimate {job['estimate']['price_low_cents'] / 100:,.0f} $"

        async def bid() -> str:
            job = await run.call("GET", f"/api/v1/jobs/{run.jobs[0]}", 200, "contractor")
            body = {"amount_cents": job["estimate"]["price_low_cents"], "message": "Smoke check bid, ignore."}
            placed = await run.call("POST", f"/api/v1/jobs/{run.jobs[0]}/bids", 201, "contractor", json=body)
            return f"bid {placed['id']}"

        async def message() -> str:
            path = f"/api/v1/jobs/{run.jobs[0]}/messages"
            await run.call("POST", path, 201, "contractor", json={"body": "Smoke check: hello."})
            thread = await run.call("GET", path + f"?contractor_id={run.users[1]}", 200, "homeowner")
            return f"{len(thread['items'])} message(s) read back"

        async def cancel() -> str:
            await run.call("POST", f"/api/v1/jobs/{run.jobs[0]}/cancel", 200, "homeowner")
            return "cancelled"

        steps: list[tuple[str, Callable[[], Awaitable[str]]]] = [
            ("sign up and sign in a homeowner", lambda: account("homeowner")),
            ("sign up and sign in a contractor", lambda: account("contractor")),
            ("browse a county's open jobs", browse),
            ("post a job", post),
            ("bid on it", bid),
            ("message the homeowner", message),
            ("cancel the job", cancel),
        ]
        try:
            for name, action in steps:
                if time.monotonic() > deadline:
                    run.steps.append(Step(name, False, 0.0, f"not reached within {timeout_s:g} s"))
                    break
                await run.step(name, action)
        except StepFailed:
            pass
        return run


async def remove(run: Run, database_url: str, settings: Settings) -> int:
    """Delete the run's accounts and everything they made; the number of accounts removed."""
    db = Database.connect(database_url, settings, pool_size=1)
    try:
        async with db.session() as session:
            params = {"users": run.users, "jobs": run.jobs}
            for statement in CLEANUP[:-1]:
                await session.execute(text(statement), params)
            removed = await session.execute(text(CLEANUP[-1]), params)
            return int(removed.rowcount)  # type: ignore[attr-defined]
    finally:
        await db.dispose()
