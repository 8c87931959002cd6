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
from ftw.billing.ledger import reconcile
from ftw.config import Settings
from ftw.core import migrations
from ftw.core.db import Database, sync_libpq_url
from ftw.jobs.models import JobStatus, Urgency
from ftw.messaging.models import PREVIEW_CHARS
from ftw.ops import seed_market
from ftw.ops.seed import (
    DEMO_DOMAIN,
    DEMO_FIPS,
    DEMO_JOBS,
    DEMO_PASSWORD,
    DEMO_USERS,
    RECENT_DAYS,
    SEED_PASSWORD,
    _counties,
    referral_code,
    seed_demo,
    seed_population,
)
from ftw.reviews.service import performance_score
from ftw.scoping.estimator import estimate, size_for, tier_for
from ftw.scoping.trades import Trade
from ftw.territories.geography import county_for_zip
from tests.conftest import SERVER_URL

USERS, JOBS = 500, 700
# The marketplace is made and copied in chunks, the next made while the last is copied: small
# chunks put the seeded world through that pipeline seven times over.
CHUNK_JOBS = 100


@dataclass(frozen=True)
class Scratch:
    seeded: str  # seeded once with USERS and JOBS
    empty: str  # migrated, no users: for seed_demo
    failing: str  # migrated, no users: for a run that fails midway


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
    names = (base, f"{base}_demo", f"{base}_failing")
    for name in names:
        await _server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    try:
        await _server(f'CREATE DATABASE "{base}"')
        await asyncio.to_thread(migrations.upgrade, _url(base))
        for copy in names[1:]:
            await _server(f'CREATE DATABASE "{copy}" TEMPLATE "{base}"')  # cheaper than migrating
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(seed_market, "CHUNK_JOBS", CHUNK_JOBS)
            await seed_population(_url(base), settings, users=USERS, jobs=JOBS, batch=300, random_seed=3)
        yield Scratch(seeded=_url(base), empty=_url(names[1]), failing=_url(names[2]))
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


async def test_a_seeded_user_s_zip_lies_in_its_territory(db: asyncpg.Connection) -> None:
    # As for a real user, whose ZIP decided its territory at sign-up: a job posted from the
    # user's own ZIP lands there. Every county users are drawn from is checked, not only the
    # few this small seed reached: no stand-in codes for counties without a ZIP of their own.
    counties = await _counties(db)
    assert len(counties) > 3_000
    assert [(c.fips, z) for c in counties for z in c.zips if county_for_zip(z) != c.fips] == []
    homes = await db.fetch("SELECT DISTINCT zip, territory_fips FROM users")
    assert [tuple(home) for home in homes if county_for_zip(home["zip"]) != home["territory_fips"]] == []


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


async def test_bids_follow_the_rules_and_the_job_s_status(db: asyncpg.Connection, settings: Settings) -> None:
    jobs = await db.fetchval("SELECT count(*) FROM jobs")
    bids = await db.fetchval("SELECT count(*) FROM bids")
    assert 3.5 < bids / jobs < 6.5  # launch proportions: 7,500 bids for 1,500 jobs
    assert not await db.fetchval(
        "SELECT count(*) FROM bids b JOIN users u ON u.id = b.contractor_id WHERE u.role <> 'contractor'"
    )
    rules = settings.bids
    assert not await db.fetchval(
        "SELECT count(*) FROM bids b JOIN jobs j ON j.id = b.job_id"
        " WHERE b.amount_cents < ceil(j.price_low_cents * $1::float8)"
        "    OR b.amount_cents > j.price_high_cents * $2::float8"
        "    OR b.created_at < j.created_at OR length(b.message) < $3",
        rules.min_factor_of_low,
        rules.max_factor_of_high,
        rules.message_min,
    )
    # One bid per contractor per job, accepted exactly for jobs that were awarded.
    assert not await db.fetchval(
        "SELECT count(*) FROM (SELECT 1 FROM bids GROUP BY job_id, contractor_id HAVING count(*) > 1) d"
    )
    wrong = await db.fetch(
        "SELECT j.id, j.status, count(b.id) FILTER (WHERE b.status = 'accepted') AS accepted,"
        "  count(b.id) FILTER (WHERE b.status = 'pending') AS pending FROM jobs j"
        " LEFT JOIN bids b ON b.job_id = j.id GROUP BY j.id"
        " HAVING count(b.id) FILTER (WHERE b.status = 'accepted')"
        "   <> (j.status IN ('awarded', 'in_progress', 'completed'))::int"
        "   OR (j.status IN ('awarded', 'in_progress', 'completed')"
        "       AND count(b.id) FILTER (WHERE b.status = 'pending') > 0)"
    )
    assert wrong == []
    # Lightning: placed within the window after posting.
    assert not await db.fetchval(
        "SELECT count(*) FROM bids b JOIN jobs j ON j.id = b.job_id"
        " WHERE b.is_lightning <> (b.created_at - j.created_at <= make_interval(mins => $1))",
        rules.lightning_minutes,
    )
    stale = await db.fetchval(
        "SELECT count(*) FROM job_stats s LEFT JOIN (SELECT job_id, count(*) AS n, min(created_at) AS first"
        " FROM bids GROUP BY job_id) b USING (job_id)"
        " WHERE (s.bids, s.first_bid_at) IS DISTINCT FROM (coalesce(b.n, 0), b.first)"
    )
    assert stale == 0


async def test_messages_stay_between_a_job_s_homeowner_and_its_bidders(db: asyncpg.Connection) -> None:
    jobs = await db.fetchval("SELECT count(*) FROM jobs")
    messages = await db.fetchval("SELECT count(*) FROM messages")
    assert 7 < messages / jobs < 13  # launch proportions: 15,000 messages for 1,500 jobs
    assert not await db.fetchval(
        "SELECT count(*) FROM threads t JOIN jobs j ON j.id = t.job_id"
        " WHERE t.homeowner_id <> j.homeowner_id"
        "    OR NOT EXISTS (SELECT 1 FROM bids b"
        "                   WHERE b.job_id = t.job_id AND b.contractor_id = t.contractor_id)"
    )
    assert not await db.fetchval(
        "SELECT count(*) FROM messages m JOIN threads t ON t.id = m.thread_id"
        " WHERE m.sender_id NOT IN (t.homeowner_id, t.contractor_id)"
    )
    assert not await db.fetchval(
        "SELECT count(*) FROM threads t JOIN (SELECT thread_id, min(created_at) AS first,"
        " max(created_at) AS last FROM messages GROUP BY thread_id) m ON m.thread_id = t.id"
        " WHERE (t.created_at, t.last_message_at) IS DISTINCT FROM (m.first, m.last)"
    )
    # Each thread carries its last message's preview and sender, as messaging.service.send sets them.
    assert not await db.fetchval(
        "SELECT count(*) FROM threads t LEFT JOIN LATERAL (SELECT body, sender_id FROM messages"
        "  WHERE thread_id = t.id ORDER BY id DESC LIMIT 1) m ON true"
        " WHERE (t.last_message_preview, t.last_sender_id) IS DISTINCT FROM (left(m.body, $1), m.sender_id)",
        PREVIEW_CHARS,
    )
    assert not await db.fetchval(
        "SELECT count(*) FROM thread_reads r JOIN threads t ON t.id = r.thread_id"
        " WHERE r.user_id NOT IN (t.homeowner_id, t.contractor_id) OR r.last_read_message_id <> 0"
        "   AND NOT EXISTS (SELECT 1 FROM messages m"
        "                   WHERE m.id = r.last_read_message_id AND m.thread_id = t.id)"
    )


async def test_awards_are_paid_and_the_ledger_reconciles(
    scratch: Scratch, db: asyncpg.Connection, settings: Settings
) -> None:
    report = await reconcile(scratch.seeded, settings)
    assert report.ok, report.lines
    fee = settings.fees.homeowner_platform_fee_cents
    # Each awarded job: one succeeded award payment of bid + fee, captured into its escrow.
    wrong = await db.fetch(
        "SELECT j.id FROM jobs j JOIN bids b ON b.job_id = j.id AND b.status = 'accepted'"
        " LEFT JOIN payments p ON p.bid_id = b.id AND p.purpose = 'award' AND p.status = 'succeeded'"
        " GROUP BY j.id, b.amount_cents"
        " HAVING count(p.id) <> 1 OR min(p.amount_cents) <> b.amount_cents + $1 OR min(p.fee_cents) <> $1",
        fee,
    )
    assert wrong == []
    # Completed jobs were released; awarded and in-progress ones still hold bid + fee.
    held = await db.fetch(
        "SELECT j.status, count(*) AS jobs,"
        "  count(*) FILTER (WHERE coalesce(e.held, 0) <> p.amount_cents) AS off"
        " FROM jobs j JOIN payments p ON p.job_id = j.id AND p.purpose = 'award'"
        " LEFT JOIN (SELECT owner_id, sum(amount_cents) AS held FROM ledger_entries"
        "            WHERE account = 'escrow' GROUP BY owner_id) e ON e.owner_id = j.id"
        " WHERE j.status IN ('awarded', 'in_progress') GROUP BY j.status"
    )
    assert held
    assert all(row["off"] == 0 for row in held)
    released = await db.fetchval(
        "SELECT count(*) FROM jobs j WHERE j.status = 'completed' AND NOT EXISTS"
        " (SELECT 1 FROM ledger_entries e WHERE e.kind = 'release' AND e.job_id = j.id"
        "  AND e.account = 'contractor' AND e.amount_cents ="
        "  (SELECT amount_cents FROM bids b WHERE b.job_id = j.id AND b.status = 'accepted'))"
    )
    assert released == 0
    # Invoices: totals add up, and what was paid is what the ledger moved.
    assert not await db.fetchval(
        "SELECT count(*) FROM invoices i"
        " WHERE i.total_cents <> i.subtotal_cents + i.tax_cents + i.late_fee_cents"
        " OR i.subtotal_cents <> (SELECT sum(amount_cents) FROM invoice_lines l WHERE l.invoice_id = i.id)"
        " OR i.paid_cents <> (SELECT coalesce(sum(p.amount_cents), 0) FROM payments p"
        "                     WHERE p.invoice_id = i.id AND p.status = 'succeeded')"
        " OR (i.status = 'paid') <> (i.paid_cents = i.total_cents)"
        " OR (i.status = 'overdue' AND (i.paid_cents = i.total_cents OR i.due_at >= now()))"
        " OR (i.status = 'sent' AND i.due_at < now() - interval '1 hour')"
    )
    statuses = {r[0] for r in await db.fetch("SELECT DISTINCT status FROM invoices")}
    assert {"paid", "overdue"} <= statuses <= {"paid", "sent", "overdue"}
    assert not await db.fetchval(
        "SELECT count(*) FROM invoices i JOIN bids b ON b.job_id = i.job_id AND b.status = 'accepted'"
        " JOIN jobs j ON j.id = i.job_id"
        " WHERE b.contractor_id <> i.contractor_id OR j.homeowner_id <> i.homeowner_id"
    )


async def test_reviews_and_contractor_stats_agree(db: asyncpg.Connection) -> None:
    assert not await db.fetchval(
        "SELECT count(*) FROM reviews r JOIN jobs j ON j.id = r.job_id"
        " JOIN bids b ON b.job_id = j.id AND b.status = 'accepted'"
        " WHERE j.status <> 'completed' OR b.contractor_id <> r.contractor_id"
        "    OR j.homeowner_id <> r.homeowner_id"
    )
    completed = await db.fetchval("SELECT count(*) FROM jobs WHERE status = 'completed'")
    reviews = await db.fetchrow("SELECT count(*) AS n, avg(rating)::float AS avg FROM reviews")
    assert 0.6 < reviews["n"] / completed < 0.95
    assert reviews["avg"] > 3.8  # skewed positive
    rows = await db.fetch(
        "SELECT s.*, coalesce(r.n, 0) AS reviews, coalesce(r.total, 0) AS total,"
        "  coalesce(r.answered, 0) AS answered,"
        "  (SELECT count(*) FROM bids b JOIN jobs j ON j.id = b.job_id"
        "   WHERE b.contractor_id = s.contractor_id AND b.status = 'accepted'"
        "   AND j.status = 'completed') AS done"
        " FROM contractor_stats s LEFT JOIN (SELECT contractor_id, count(*) AS n, sum(rating) AS total,"
        "  count(response) AS answered FROM reviews GROUP BY contractor_id) r USING (contractor_id)"
    )
    assert rows
    for row in rows:
        assert (row["rating_count"], row["rating_sum"], row["jobs_completed"]) == (
            row["reviews"],
            row["total"],
            row["done"],
        )
        average = round(row["total"] / row["reviews"], 2) if row["reviews"] else 0
        assert float(row["rating_avg"]) == pytest.approx(average, abs=0.006)
        score = performance_score(
            rating_sum=row["total"],
            rating_count=row["reviews"],
            jobs_completed=row["done"],
            responses=row["answered"],
        )
        assert float(row["performance_score"]) == pytest.approx(score)
    assert await db.fetchval("SELECT count(DISTINCT contractor_id) FROM reviews") <= len(rows)


async def test_crm_customers_are_made_once_per_award_pair(db: asyncpg.Connection) -> None:
    wrong = await db.fetch(
        "SELECT c.id FROM crm_customers c LEFT JOIN ("
        "  SELECT b.contractor_id, j.homeowner_id, count(*) AS jobs, min(j.id) AS first FROM bids b"
        "  JOIN jobs j ON j.id = b.job_id WHERE b.status = 'accepted' GROUP BY 1, 2"
        ") a USING (contractor_id, homeowner_id)"
        " WHERE a.jobs IS DISTINCT FROM c.jobs_count OR a.first <> c.first_job_id"
        "    OR c.lifetime_value_cents <> (SELECT coalesce(sum(i.paid_cents), 0) FROM invoices i"
        "       WHERE i.contractor_id = c.contractor_id AND i.homeowner_id = c.homeowner_id)"
    )
    assert wrong == []
    pairs = await db.fetchval(
        "SELECT count(DISTINCT (b.contractor_id, j.homeowner_id)) FROM bids b JOIN jobs j ON j.id = b.job_id"
        " WHERE b.status = 'accepted'"
    )
    assert await db.fetchval("SELECT count(*) FROM crm_customers") == pairs


async def test_operators_earn_their_share_of_seeded_fees(
    scratch: Scratch, db: asyncpg.Connection, settings: Settings
) -> None:
    # Give every county with seeded homeowners an operator of its own, then seed more jobs there.
    await db.execute(
        "UPDATE territories t SET operator_id = o.id FROM ("
        "  SELECT DISTINCT ON (territory_fips) territory_fips, id FROM users WHERE role = 'operator'"
        "  ORDER BY territory_fips, id) o WHERE o.territory_fips = t.fips AND t.operator_id IS NULL"
    )
    await seed_population(scratch.seeded, settings, users=300, jobs=400, batch=100, random_seed=11)
    share = settings.fees.homeowner_platform_fee_cents * settings.fees.operator_share_bps // 10_000
    shares = await db.fetch(
        "SELECT e.amount_cents, e.owner_id = t.operator_id AS theirs FROM ledger_entries e"
        " JOIN jobs j ON j.id = e.job_id JOIN territories t ON t.fips = j.territory_fips"
        " WHERE e.kind = 'release' AND e.account = 'operator'"
    )
    assert shares
    assert all(row["amount_cents"] == share and row["theirs"] for row in shares)
    report = await reconcile(scratch.seeded, settings)
    assert report.ok, report.lines


async def test_no_marketplace_seeds_only_people_and_jobs(
    scratch: Scratch, db: asyncpg.Connection, settings: Settings
) -> None:
    bids = await db.fetchval("SELECT count(*) FROM bids")
    await seed_population(
        scratch.seeded, settings, users=40, jobs=50, batch=40, random_seed=5, marketplace=False
    )
    assert await db.fetchval("SELECT count(*) FROM bids") == bids


async def test_a_copy_that_fails_midway_leaves_nothing_behind(
    scratch: Scratch, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bids on jobs past the 300th break a constraint, ten chunks in, while the next chunk is
    being made: the run fails with the server's error and rolls back every row before it."""
    monkeypatch.setattr(seed_market, "CHUNK_JOBS", CHUNK_JOBS)
    conn = await asyncpg.connect(sync_libpq_url(scratch.failing))
    try:
        await conn.execute("ALTER TABLE bids ADD CONSTRAINT early_jobs_only CHECK (job_id <= 300)")
        with pytest.raises(asyncpg.CheckViolationError):
            await seed_population(scratch.failing, settings, users=USERS, jobs=JOBS, batch=300, random_seed=3)
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM jobs) AS jobs,"
            " (SELECT count(*) FROM bids) AS bids, (SELECT count(*) FROM messages) AS messages"
        )
    finally:
        await conn.close()
    assert dict(counts) == {"users": 0, "jobs": 0, "bids": 0, "messages": 0}
