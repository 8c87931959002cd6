"""The seeder commits on its own connection, so it writes to throwaway databases of its own."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from ftw.accounts.service import new_referral_code
from ftw.app import create_app
from ftw.config import Settings
from ftw.core import migrations
from ftw.core.db import Database, sync_libpq_url
from ftw.jobs.models import JobStatus, Urgency
from ftw.ops.seed import (
    DEMO_DOMAIN,
    DEMO_FIPS,
    DEMO_JOBS,
    DEMO_PASSWORD,
    DEMO_USERS,
    RECENT_DAYS,
    SEED_PASSWORD,
    referral_code,
    seed_demo,
    seed_population,
)
from ftw.scoping.estimator import estimate, size_for, tier_for
from ftw.scoping.trades import Trade
from tests.conftest import SERVER_URL

USERS, JOBS = 500, 700


@dataclass(frozen=True)
class Scratch:
    seeded: str  # seeded once with USERS and JOBS
    empty: str  # migrated, no users: for seed_demo


async def _server(sql: str) -> None:
    conn = await asyncpg.connect(sync_libpq_url(SERVER_URL))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _url(name: str) -> str:
    return make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
async def scratch(settings: Settings) -> AsyncIterator[Scratch]:
    base = f"ftw_seed_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
    names = (base, f"{base}_demo")
    for name in names:
        await _server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    try:
        await _server(f'CREATE DATABASE "{base}"')
        await asyncio.to_thread(migrations.upgrade, _url(base))
        await _server(f'CREATE DATABASE "{names[1]}" TEMPLATE "{base}"')  # a copy, cheaper than migrating
        await seed_population(_url(base), settings, users=USERS, jobs=JOBS, batch=300, random_seed=3)
        yield Scratch(seeded=_url(base), empty=_url(names[1]))
    finally:
        for name in names:
            await _server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db(scratch: Scratch) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(sync_libpq_url(scratch.seeded))
    yield conn
    await conn.close()


async def _log_in(url: str, settings: Settings, tmp_path: Path, email: str, password: str) -> httpx.Response:
    app_settings = settings.model_copy(
        update={"database_url": url, "data_dir": tmp_path, "media_dir": tmp_path}
    )
    database = Database.connect(url, app_settings, pool_size=2)
    app = create_app(app_settings, database=database)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            tokens = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
            if tokens.status_code != 200:
                return tokens
            headers = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
            return await client.get("/api/v1/me", headers=headers)
    finally:
        await database.dispose()


async def test_roles_follow_the_shares(db: asyncpg.Connection) -> None:
    shares = dict(
        await db.fetch("SELECT role, count(*)::float / sum(count(*)) OVER () FROM users GROUP BY role")
    )
    assert shares.keys() == {"homeowner", "contractor", "operator"}
    assert shares["homeowner"] == pytest.approx(0.60, abs=0.01)
    assert shares["contractor"] == pytest.approx(0.35, abs=0.01)
    assert shares["operator"] == pytest.approx(0.05, abs=0.01)
    contractors = await db.fetchrow(
        "SELECT avg(is_available::int) AS available, avg(is_pro::int) AS pro"
        " FROM users WHERE role = 'contractor'"
    )
    assert contractors["available"] > 0.7
    assert 0 < contractors["pro"] < 0.2
    assert await db.fetchval("SELECT count(*) FROM users WHERE role <> 'contractor' AND is_available") == 0
    assert await db.fetchval("SELECT count(*) FROM users WHERE referred_by_id IS NOT NULL") > 0
    # Referrers signed up before the users they referred.
    assert not await db.fetchval(
        "SELECT count(*) FROM users u JOIN users r ON r.id = u.referred_by_id"
        " WHERE r.created_at > u.created_at"
    )


async def test_users_live_where_people_live(db: asyncpg.Connection) -> None:
    # Population-weighted: Los Angeles County (06037, ~3 % of the US) gets users, and every
    # user has a territory and a five-digit ZIP.
    assert await db.fetchval("SELECT count(*) FROM users WHERE territory_fips = '06037'") >= 5
    assert not await db.fetchval(
        "SELECT count(*) FROM users WHERE territory_fips IS NULL OR zip !~ '^[0-9]{5}$'"
    )


async def test_every_job_is_posted_by_a_homeowner_of_its_county(db: asyncpg.Connection) -> None:
    wrong = await db.fetchval(
        "SELECT count(*) FROM jobs j JOIN users u ON u.id = j.homeowner_id"
        " WHERE u.role <> 'homeowner' OR u.territory_fips <> j.territory_fips OR u.created_at > j.created_at"
    )
    assert wrong == 0
    oldest = await db.fetchval("SELECT now() - min(created_at) FROM jobs")
    assert oldest <= timedelta(days=366)


async def test_estimates_are_the_estimator_s(db: asyncpg.Connection, settings: Settings) -> None:
    rows = await db.fetch(
        "SELECT j.*, t.state FROM jobs j JOIN territories t ON t.fips = j.territory_fips ORDER BY j.id"
    )
    assert len(rows) >= JOBS
    for row in rows:
        scoped = estimate(
            trade=Trade(row["trade"]),
            title=row["title"],
            description=row["description"],
            state=row["state"],
            rules=settings.jobs,
        )
        assert (row["price_low_cents"], row["price_high_cents"]) == (
            scoped.price_low_cents,
            scoped.price_high_cents,
        )
        assert row["size"] == size_for(row["price_high_cents"], settings.jobs) == scoped.size
        assert row["tier"] == tier_for(row["price_high_cents"], settings.jobs) == scoped.tier
        assert float(row["confidence"]) == pytest.approx(scoped.confidence)
        assert json.loads(row["materials"]) == list(scoped.materials)
        assert row["estimate_source"] == "offline"
    trades = {row["trade"] for row in rows}
    assert {"plumbing", "handyman", "electrical", "hvac"} <= trades


async def test_statuses_follow_age_and_urgent_jobs_have_deadlines(
    db: asyncpg.Connection, settings: Settings
) -> None:
    rows = await db.fetch(
        "SELECT status, urgency, deadline_at, cancelled_at, created_at, updated_at FROM jobs"
    )
    assert {r["status"] for r in rows} <= {s.value for s in JobStatus}
    deadline = timedelta(minutes=settings.jobs.urgent_deadline_minutes)
    for r in rows:
        if r["urgency"] == Urgency.URGENT:
            assert r["deadline_at"] == r["created_at"] + deadline
        else:
            assert r["deadline_at"] is None
        assert (r["cancelled_at"] is not None) == (r["status"] == JobStatus.CANCELLED)
        assert r["updated_at"] >= r["created_at"]
    urgent = sum(r["urgency"] == Urgency.URGENT for r in rows) / len(rows)
    assert 0.05 < urgent < 0.15
    newest = max(r["created_at"] for r in rows)
    recent = [r["status"] for r in rows if newest - r["created_at"] < timedelta(days=RECENT_DAYS)]
    older = [r["status"] for r in rows if newest - r["created_at"] >= timedelta(days=RECENT_DAYS)]
    assert recent.count(JobStatus.OPEN) / len(recent) > 0.5
    assert older.count(JobStatus.COMPLETED) / len(older) > 0.6
    assert older.count(JobStatus.OPEN) / len(older) < 0.1


async def test_full_text_search_finds_seeded_jobs(db: asyncpg.Connection) -> None:
    hits = await db.fetchval(
        "SELECT count(*) FROM jobs WHERE search @@ websearch_to_tsquery('english', 'faucet')"
    )
    assert hits > 0


async def test_seeding_again_only_adds_rows(
    scratch: Scratch, db: asyncpg.Connection, settings: Settings
) -> None:
    before = await db.fetchrow(
        "SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM jobs) AS jobs"
    )
    # The same random seed draws the same names: e-mails and codes must still be new.
    await seed_population(scratch.seeded, settings, users=50, jobs=60, batch=40, random_seed=3)
    after = await db.fetchrow(
        "SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM jobs) AS jobs"
    )
    assert (after["users"] - before["users"], after["jobs"] - before["jobs"]) == (50, 60)
    # The identity sequence is ahead of every id, so the API's next sign-up cannot collide.
    assert await db.fetchval(
        "SELECT last_value FROM pg_sequences WHERE sequencename = 'users_id_seq'"
    ) >= await db.fetchval("SELECT max(id) FROM users")


async def test_a_seeded_user_logs_in_with_the_seed_password(
    db: asyncpg.Connection, scratch: Scratch, settings: Settings, tmp_path: Path
) -> None:
    email = await db.fetchval(
        "SELECT email FROM users WHERE role = 'contractor' AND is_active ORDER BY id LIMIT 1"
    )
    me = await _log_in(scratch.seeded, settings, tmp_path, email, SEED_PASSWORD)
    assert me.status_code == 200, me.text
    assert me.json()["email"] == email


def test_referral_codes_never_collide_with_issued_ones() -> None:
    codes = {referral_code(user_id) for user_id in range(1, 20_001)}
    assert len(codes) == 20_000
    assert all(len(code) == 8 and code.startswith("0") for code in codes)
    assert not any("0" in new_referral_code() for _ in range(200))


async def test_demo_seeds_once_and_its_admin_logs_in(
    scratch: Scratch, settings: Settings, tmp_path: Path
) -> None:
    lines = await seed_demo(scratch.empty, settings)
    assert any(f"admin@{DEMO_DOMAIN}" in line for line in lines)
    assert await seed_demo(scratch.empty, settings) == [
        "Demo data not loaded: the database already has users."
    ]
    conn = await asyncpg.connect(sync_libpq_url(scratch.empty))
    try:
        assert await conn.fetchval("SELECT count(*) FROM users") == DEMO_USERS + 4
        assert await conn.fetchval("SELECT count(*) FROM jobs") == DEMO_JOBS
        demo = await conn.fetch(
            "SELECT role, territory_fips, zip FROM users WHERE email LIKE $1", f"%@{DEMO_DOMAIN}"
        )
        assert sorted(r["role"] for r in demo) == ["admin", "contractor", "homeowner", "operator"]
        assert {(r["territory_fips"], r["zip"]) for r in demo} == {(DEMO_FIPS, "10001")}
        assert await conn.fetchval("SELECT count(*) FROM jobs WHERE territory_fips = $1", DEMO_FIPS) > 0
    finally:
        await conn.close()
    me = await _log_in(scratch.empty, settings, tmp_path, f"admin@{DEMO_DOMAIN}", DEMO_PASSWORD)
    assert me.status_code == 200, me.text
    assert me.json()["role"] == "admin"
