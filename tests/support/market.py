"""Arranging a marketplace for tests: users, jobs, bids, awards and completions.

Through the API: a sandbox that counts charges, the app around it, posting jobs, placing and
accepting bids, and the clean-up of data that concurrency tests commit. Written directly, for
the tests that do not exercise these endpoints: users with a ready-made token (sign-up's
password hashing would dominate those tests; sign-up has its own), bids and job statuses.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ftw.accounts.models import User
from ftw.app import create_app
from ftw.bids.models import Bid, BidStatus
from ftw.config import Settings
from ftw.core.db import Database
from ftw.core.security import hash_password, issue_access_token
from ftw.integrations import Integrations, build
from ftw.integrations.messages import DeliveryFailed
from ftw.integrations.payments import Charge, SandboxPayments
from ftw.jobs.models import Job, JobStatus
from ftw.models import metadata
from tests.conftest import PASSWORD, Account, SignUp

JOB = {
    "title": "Leaking kitchen faucet",
    "description": "The kitchen faucet drips constantly and the handle is loose.",
    "trade": "plumbing",
    "zip": "10001",
}
MESSAGE = "Licensed plumber, I can come tomorrow morning."


class CountingSandbox(SandboxPayments):
    """The sandbox, also listing each charge it really made (a repeated key makes none)."""

    def __init__(self) -> None:
        super().__init__()
        self.charges: list[Charge] = []
        self._seen: set[str] = set()
        self.payouts: list[str] = []

    async def charge(
        self, *, amount_cents: int, payment_method: str, idempotency_key: str, description: str
    ) -> Charge:
        made = await super().charge(
            amount_cents=amount_cents,
            payment_method=payment_method,
            idempotency_key=idempotency_key,
            description=description,
        )
        if idempotency_key not in self._seen:
            self._seen.add(idempotency_key)
            self.charges.append(made)
        return made

    async def payout(self, *, amount_cents: int, destination: str, idempotency_key: str) -> str:
        if idempotency_key not in self.payouts:
            self.payouts.append(idempotency_key)
        return await super().payout(
            amount_cents=amount_cents, destination=destination, idempotency_key=idempotency_key
        )


@pytest.fixture
def sandbox() -> CountingSandbox:
    return CountingSandbox()


@pytest.fixture
def integrations(settings: Settings, sandbox: CountingSandbox) -> Integrations:
    built = build(settings)
    built.payments = sandbox
    return built


@pytest.fixture
async def client(
    settings: Settings, database: Database, integrations: Integrations
) -> AsyncIterator[httpx.AsyncClient]:
    """The app on the test's rolled-back transaction, with the counting sandbox."""
    app = create_app(settings, database=database, integrations=integrations)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def committing_client(
    engine: AsyncEngine, settings: Settings, integrations: Integrations
) -> AsyncIterator[httpx.AsyncClient]:
    """The app on real, separate connections: each request commits. Clean up with ``purge``."""
    database = Database(engine, async_sessionmaker(engine, expire_on_commit=False))
    app = create_app(settings, database=database, integrations=integrations)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


async def queue_mark(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT coalesce(max(id), 0) FROM pgqueuer")) or 0)


async def purge(engine: AsyncEngine, user_ids: set[int], *, queue_after: int) -> None:
    """Delete every committed row reachable through foreign keys from these users, the ledger
    transactions touching their accounts, and the tasks queued since ``queue_after``.
    Counties are shared: never deleted."""
    tables = [t for t in metadata.sorted_tables if t.name != "territories"]
    users = metadata.tables["users"]
    doomed: dict[Any, set[int]] = {users: set(user_ids)}
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "DELETE FROM ledger_entries WHERE txn_id IN (SELECT txn_id FROM ledger_entries "
                "WHERE account IN ('card', 'contractor', 'operator', 'bank') AND owner_id = ANY(:ids))"
            ),
            {"ids": list(user_ids)},
        )
        grown = True
        while grown:
            grown = False
            for table in tables:
                keys = list(table.primary_key.columns)
                if len(keys) != 1:
                    continue
                for fk in table.foreign_keys:
                    parents = doomed.get(fk.column.table)
                    if not parents:
                        continue
                    found = set((await conn.execute(select(keys[0]).where(fk.parent.in_(parents)))).scalars())
                    fresh = found - doomed.setdefault(table, set())
                    if fresh:
                        doomed[table] |= fresh
                        grown = True
        for table in reversed(tables):
            conditions = [
                fk.parent.in_(doomed[fk.column.table])
                for fk in table.foreign_keys
                if doomed.get(fk.column.table)
            ]
            if doomed.get(table):
                conditions.append(next(iter(table.primary_key.columns)).in_(doomed[table]))
            if conditions:
                await conn.execute(delete(table).where(or_(*conditions)))
        await conn.execute(text("DELETE FROM pgqueuer WHERE id > :mark"), {"mark": queue_after})


@pytest.fixture
async def committed_sign_up(
    committing_client: httpx.AsyncClient, engine: AsyncEngine
) -> AsyncIterator[SignUp]:
    """``sign_up`` for ``committing_client``: the accounts and all they lead to are purged after."""
    mark = await queue_mark(engine)
    made: set[int] = set()

    async def make(role: str = "homeowner", *, zip: str = "10001", **_: object) -> Account:
        email = f"committed-{role}-{uuid.uuid4().hex[:12]}@example.com"
        body = {"email": email, "password": PASSWORD, "full_name": "Racer", "role": role, "zip": zip}
        created = await committing_client.post("/api/v1/auth/signup", json=body)
        assert created.status_code == 202, created.text
        login = {"email": email, "password": PASSWORD}
        tokens = (await committing_client.post("/api/v1/auth/login", json=login)).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        if role in ("contractor", "operator"):
            await committing_client.post("/api/v1/payouts/account", headers=headers)
        user_id = (await committing_client.get("/api/v1/me", headers=headers)).json()["id"]
        made.add(user_id)
        return Account(user_id, email, role, headers, tokens["refresh_token"])

    yield make
    await purge(engine, made, queue_after=mark)


@dataclass
class Market:
    homeowner: Account
    contractor: Account
    job: dict[str, Any]
    bid: dict[str, Any]


async def post_job(client: httpx.AsyncClient, homeowner: Account, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/jobs", json=JOB | overrides, headers=homeowner.headers)
    assert response.status_code == 201, response.text
    job: dict[str, Any] = response.json()
    return job


async def place_bid(
    client: httpx.AsyncClient,
    contractor: Account,
    job: dict[str, Any],
    *,
    amount_cents: int | None = None,
    message: str = MESSAGE,
) -> dict[str, Any]:
    amount = amount_cents or job["estimate"]["price_low_cents"]
    response = await client.post(
        f"/api/v1/jobs/{job['id']}/bids",
        json={"amount_cents": amount, "message": message},
        headers=contractor.headers,
    )
    assert response.status_code == 201, response.text
    bid: dict[str, Any] = response.json()
    return bid


async def accept(
    client: httpx.AsyncClient,
    homeowner: Account,
    bid: dict[str, Any],
    *,
    method: str | None = None,
    key: str | None = None,
) -> httpx.Response:
    headers = homeowner.headers | ({"Idempotency-Key": key} if key else {})
    body = {"payment_method": method} if method else None
    return await client.post(f"/api/v1/bids/{bid['id']}/accept", json=body, headers=headers)


async def market(client: httpx.AsyncClient, sign_up: SignUp, *, zip: str = "10001") -> Market:
    """A homeowner's open job with one contractor's pending bid."""
    homeowner, contractor = await sign_up("homeowner", zip=zip), await sign_up("contractor", zip=zip)
    job = await post_job(client, homeowner, zip=zip)
    return Market(homeowner, contractor, job, await place_bid(client, contractor, job))


async def awarded(client: httpx.AsyncClient, sign_up: SignUp, *, zip: str = "10001") -> Market:
    deal = await market(client, sign_up, zip=zip)
    response = await accept(client, deal.homeowner, deal.bid)
    assert response.status_code == 200, response.text
    return deal


async def completed(client: httpx.AsyncClient, sign_up: SignUp, *, zip: str = "10001") -> Market:
    deal = await awarded(client, sign_up, zip=zip)
    job_id = deal.job["id"]
    started = await client.post(f"/api/v1/jobs/{job_id}/start", headers=deal.contractor.headers)
    assert started.status_code == 200, started.text
    done = await client.post(f"/api/v1/jobs/{job_id}/complete", headers=deal.homeowner.headers)
    assert done.status_code == 200, done.text
    return deal


async def write_bid(
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
    await write_bid(session, job["id"], contractor, status=BidStatus.ACCEPTED.value)
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
        self.sent: list[dict[str, Any]] = []
        self.down = False
        self.refused = 0
        self.pause = 0.0

    async def send(
        self, *, to: str, body: str, subject: str | None = None, headers: Mapping[str, str] | None = None
    ) -> str:
        """Either channel's send: a text has no subject and no headers."""
        message: dict[str, Any] = {"to": to, "body": body}
        if subject is not None:
            message["subject"] = subject
        if headers is not None:
            message["headers"] = headers
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
