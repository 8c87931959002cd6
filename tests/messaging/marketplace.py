"""Arranging a marketplace for the messaging, reviews, CRM and analytics tests.

Users are written directly with a ready-made token (sign-up's password hashing would
dominate these tests; sign-up has its own). Jobs are posted through the API; bids, awards
and completions are written directly, so these tests do not depend on the bids and
billing endpoints.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from functools import cache
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.models import User
from ftw.bids.models import Bid, BidStatus
from ftw.config import Settings
from ftw.core.security import hash_password, issue_access_token
from ftw.integrations import Integrations, build
from ftw.integrations.messages import DeliveryFailed
from ftw.jobs.models import Job, JobStatus
from tests.conftest import PASSWORD, Account

JOB = {
    "title": "Leaking kitchen faucet",
    "description": "The kitchen faucet drips constantly and the handle is loose.",
    "trade": "plumbing",
    "zip": "10001",
}


async def post_job(client: httpx.AsyncClient, homeowner: Account, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/jobs", json=JOB | overrides, headers=homeowner.headers)
    assert response.status_code == 201, response.text
    job: dict[str, Any] = response.json()
    return job


async def place_bid(
    session: AsyncSession,
    job_id: int,
    contractor: Account,
    *,
    amount_cents: int = 12_000,
    status: str = "pending",
) -> Bid:
    bid = Bid(
        job_id=job_id,
        contractor_id=contractor.id,
        amount_cents=amount_cents,
        message="I can fix this tomorrow morning.",
        status=status,
    )
    session.add(bid)
    await session.flush()
    return bid


async def set_job_status(session: AsyncSession, job_id: int, status: JobStatus) -> None:
    await session.execute(update(Job).where(Job.id == job_id).values(status=status.value))
    await session.flush()


async def completed_job(
    client: httpx.AsyncClient, session: AsyncSession, homeowner: Account, contractor: Account
) -> dict[str, Any]:
    """A job whose bid by ``contractor`` was accepted and which the homeowner completed."""
    job = await post_job(client, homeowner)
    await place_bid(session, job["id"], contractor, status=BidStatus.ACCEPTED.value)
    await set_job_status(session, job["id"], JobStatus.COMPLETED)
    return job


def headers_as(settings: Settings, user_id: int, role: str) -> dict[str, str]:
    """Auth headers of ``user_id`` acting as ``role`` (sign-up cannot create admins)."""
    token, _ = issue_access_token(settings.auth, user_id=user_id, role=role, pro=False)
    return {"Authorization": f"Bearer {token}"}


@cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


async def make_user(
    session: AsyncSession,
    settings: Settings,
    role: str = "homeowner",
    *,
    name: str | None = None,
    phone: str | None = None,
    fips: str = "36061",
) -> Account:
    """A user of ``role`` in New York County (ZIP 10001), signed in, its e-mail (and phone)
    verified."""
    tag = os.urandom(6).hex()
    verified = datetime.now(UTC)
    user = User(
        email=f"{role}-{tag}@example.com",
        password_hash=_password_hash(),
        full_name=name or f"Test {role.title()}",
        role=role,
        phone=phone,
        zip="10001",
        territory_fips=fips,
        is_available=role == "contractor",
        referral_code=tag[:12].upper(),
        email_verified_at=verified,
        phone_verified_at=verified if phone else None,
    )
    session.add(user)
    await session.flush()
    return Account(user.id, user.email, role, headers_as(settings, user.id, role), refresh_token="")


class RecordingChannel:
    """A fake SMS/e-mail provider that records what it sends, or refuses while ``down``."""

    name = "recording"

    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []
        self.down = False
        self.refused = 0
        self.pause = 0.0

    async def send(self, **message: str) -> str:
        await asyncio.sleep(self.pause)
        if self.down:
            self.refused += 1
            raise DeliveryFailed("provider unreachable")
        self.sent.append(message)
        return f"ref-{len(self.sent)}"


def recording_integrations(settings: Settings) -> tuple[Integrations, RecordingChannel, RecordingChannel]:
    integrations = build(settings)
    sms, email = RecordingChannel(), RecordingChannel()
    integrations.sms, integrations.email = sms, email
    return integrations, sms, email
