"""Query budgets: the SQL statements and Redis round trips ONE request of each hot endpoint
makes, pinned so that an N+1 or an extra round trip fails CI (Saleor's query-count tests).

The endpoints are the launch mix of ``ftw.loadtest.mix`` plus the money paths. They are
counted on the app as production builds it, on real PostgreSQL and Redis: a database of this
module's own, where every request commits (so BEGIN and COMMIT are seen), with the Redis
cache and rate limits on. Each request is made once to warm caches, prepared statements and
Lua scripts, then an identical one is counted (for a write, a second one of the same kind).
Time is never asserted.

The numbers are exact: a regression fails, and so does an improvement, until the table is
updated on purpose. A failure lists every statement and Redis command the request sent.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import redis.asyncio as redis
from sqlalchemy import text

from ftw.app import create_app
from ftw.config import PayoutRules, Settings, SwitchSettings
from ftw.core.db import Database
from tests.conftest import PASSWORD, approve_operator, migrated_database
from tests.support.budget import Budget, Recorder

# sql: statements PostgreSQL receives, BEGIN and COMMIT included (a prepare is not counted).
# redis: round trips; a pipeline or a script is one. Every /api/ request pays one for the
# rate limiter's script; a write that changes a territory's jobs one more to bump its version.
BUDGETS: dict[str, Budget] = {
    "GET /me": Budget(sql=1, redis=1),
    "GET /notifications": Budget(sql=1, redis=1),
    "GET /threads": Budget(sql=1, redis=1),
    # A cache hit: no SQL, and one more round trip (the version and the page in one MGET).
    "GET /jobs?territory (browse)": Budget(sql=0, redis=2),
    "GET /jobs?q (search)": Budget(sql=1, redis=1),
    "GET /jobs?mine": Budget(sql=1, redis=1),
    "GET /jobs?mine&status": Budget(sql=1, redis=1),
    "GET /jobs/{id}/bids (homeowner)": Budget(sql=2, redis=1),
    "GET /invoices (homeowner)": Budget(sql=1, redis=1),
    "GET /invoices (contractor)": Budget(sql=1, redis=1),
    "GET /analytics/contractor": Budget(sql=1, redis=1),
    # A GET that writes: BEGIN, the job, the view counter's upsert, the photos, COMMIT.
    "GET /jobs/{id} (contractor)": Budget(sql=1, redis=1),
    # The job, the caller's bid, the thread and the page: three statements to check access.
    "GET /jobs/{id}/messages (contractor)": Budget(sql=2, redis=1),
    "GET /crm/customers": Budget(sql=1, redis=1),
    "GET /balance": Budget(sql=1, redis=1),
    "GET /payouts": Budget(sql=1, redis=1),
    # A cache hit, as the browse above.
    "GET /territories/{fips}": Budget(sql=0, redis=2),
    "GET /analytics/territory/{fips} (operator)": Budget(sql=3, redis=1),
    # The address's sign-in backoff is read first (a failed streak closes sign-in for a while).
    "POST /auth/login": Budget(sql=7, redis=1),
    # The job is read back after its INSERT ... RETURNING.
    "POST /jobs": Budget(sql=5, redis=2),
    # A SAVEPOINT around the bid's INSERT, and the bid read back before the response.
    "POST /jobs/{id}/bids": Budget(sql=14, redis=1),
    "POST /jobs/{id}/messages (contractor)": Budget(sql=13, redis=1),
    "POST /jobs/{id}/messages (homeowner)": Budget(sql=15, redis=1),
    # The bid read twice (before and after locking its job), payments twice before the charge (a
    # pending charge or the key's, in one statement; then the count that numbers a new key).
    "POST /bids/{id}/accept": Budget(sql=21, redis=2),
    # The job read again after its UPDATE; the contractor's stats: upsert, read, then update.
    "POST /jobs/{id}/complete": Budget(sql=16, redis=2),
    # The invoice read three times: to check access, locked, and again to present it.
    "POST /invoices/{id}/pay": Budget(sql=13, redis=1),
}

REDIS_URL = "redis://127.0.0.1:6379/12"
FIPS = "36061"  # New York County, where ZIP 10001 lies
ZIP = "10001"
JOB = {
    "title": "Leaking kitchen faucet",
    "description": "The kitchen faucet drips all day and the handle is loose at the base.",
    "trade": "plumbing",
    "zip": ZIP,
}
BID_MESSAGE = "Licensed and insured, can start this week."


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    headers: dict[str, str]
    json: Any = None
    expect: int = 200


@dataclass
class World:
    """The arranged marketplace: each account's headers, and the ids the requests need."""

    client: httpx.AsyncClient
    recorder: Recorder
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    ids: dict[str, Any] = field(default_factory=dict)

    def call(self, method: str, path: str, who: str, json: Any = None, expect: int = 200) -> Call:
        return Call(method, "/api/v1" + path, self.headers[who], json, expect)

    async def send(self, call: Call) -> Any:
        response = await self.client.request(call.method, call.path, headers=call.headers, json=call.json)
        assert response.status_code == call.expect, f"{call.method} {call.path}: {response.text}"
        return response.json() if response.content else None


@pytest.fixture(scope="module")
def budget_database_url() -> Iterator[str]:
    """A database of this module's own, migrated to head, dropped afterwards."""
    with migrated_database(
        f"ftw_budget_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
    ) as url:
        yield url


@pytest.fixture(scope="module")
async def world(budget_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    """The app as production builds it, watched by a recorder, on an arranged marketplace."""
    prefix = f"budget-{uuid.uuid4().hex}"
    data = tmp_path_factory.mktemp("budget")
    settings = Settings(
        environment="test",
        database_url=budget_database_url,
        redis_url=REDIS_URL,
        redis_prefix=prefix,
        rate_limits_enabled=True,
        cache_enabled=True,
        data_dir=data,
        media_dir=data / "media",
        payouts=PayoutRules(hold_days=0),  # the arranged payouts spend fresh earnings
        # A write reads the launch switches once per TTL (one statement, then none for 5 s); a
        # TTL longer than the module keeps that read in the warm-up request, never a counted one.
        switches=SwitchSettings(ttl_s=3_600),
    )
    recorder = Recorder(redis_prefix=prefix)
    db = Database.connect(budget_database_url, settings)
    recorder.watch_database(db)  # before its first connection opens
    app = create_app(settings, database=db)  # ASGITransport runs no lifespan: nothing to start
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            arranged = World(client, recorder)
            await arrange(arranged)
            yield arranged
    finally:
        await app.state.cache.aclose()
        await app.state.limiter.aclose()
        await db.dispose()
        keys = redis.Redis.from_url(REDIS_URL)
        async for key in keys.scan_iter(match=f"{prefix}:*"):
            await keys.delete(key)
        await keys.aclose()


# -- arranging the marketplace -------------------------------------------------------------


async def sign_up(world: World, who: str, role: str) -> None:
    email = f"{who}-{uuid.uuid4().hex[:10]}@example.com"
    body = {"email": email, "password": PASSWORD, "full_name": f"Budget {who}", "role": role, "zip": ZIP}
    created = await world.client.post("/api/v1/auth/signup", json=body)
    assert created.status_code == 202, created.text
    tokens = await world.client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    world.emails[who] = email
    world.headers[who] = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
    if role in ("contractor", "operator"):
        await world.send(world.call("POST", "/payouts/account", who))
    world.ids[who] = (await world.client.get("/api/v1/me", headers=world.headers[who])).json()["id"]


async def post_job(world: World, owner: str, title: str = JOB["title"]) -> dict[str, Any]:
    job: dict[str, Any] = await world.send(world.call("POST", "/jobs", owner, JOB | {"title": title}, 201))
    return job


async def bid(world: World, contractor: str, job: dict[str, Any], extra_cents: int = 0) -> int:
    body = {"amount_cents": job["estimate"]["price_low_cents"] + extra_cents, "message": BID_MESSAGE}
    placed = await world.send(world.call("POST", f"/jobs/{job['id']}/bids", contractor, body, 201))
    return int(placed["id"])


def accepting(world: World, owner: str, bid_id: int) -> Call:
    headers = world.headers[owner] | {"Idempotency-Key": f"budget-{bid_id}"}
    return Call("POST", f"/api/v1/bids/{bid_id}/accept", headers, {"payment_method": "pm_card_visa"})


async def contested(world: World, owner: str) -> tuple[dict[str, Any], int]:
    """A job of ``owner`` with a bid of each contractor; the contractor's bid id."""
    job = await post_job(world, owner)
    won = await bid(world, "contractor", job)
    await bid(world, "rival", job, extra_cents=4_000)
    return job, won


async def in_progress(world: World, owner: str) -> dict[str, Any]:
    """A job of ``owner`` whose contractor's bid was accepted and whose work has started."""
    job, won = await contested(world, owner)
    await world.send(accepting(world, owner, won))
    await world.send(world.call("POST", f"/jobs/{job['id']}/start", "contractor"))
    return job


async def arrange(world: World) -> None:
    """Accounts, jobs in every state, bids, threads, invoices and payouts, spread over two
    homeowners so that neither reaches the post-job limit (10 an hour)."""
    for who, role in (
        ("homeowner", "homeowner"),
        ("payer", "homeowner"),
        ("contractor", "contractor"),
        ("rival", "contractor"),
        ("operator", "operator"),
    ):
        await sign_up(world, who, role)
    app = world.client._transport.app  # type: ignore[attr-defined]
    await approve_operator(app.state.db, world.ids["operator"])
    async with app.state.db.session() as session:  # confirmed addresses: notifications are e-mailed
        await session.execute(text("UPDATE users SET email_verified_at = now()"))
    await world.send(world.call("POST", f"/territories/{FIPS}/claim", "operator"))

    # Lists hold two items or more, so that a query per item shows. The homeowner's open job
    # has two bids and a thread with each bidder; two more jobs have no bids, to bid on.
    open_job, _ = await contested(world, "homeowner")
    path = f"/jobs/{open_job['id']}/messages"
    for contractor in ("contractor", "rival"):
        asked = {"body": "Could you come by on Saturday morning?", "contractor_id": world.ids[contractor]}
        await world.send(world.call("POST", path, "homeowner", asked, 201))
        await world.send(world.call("POST", path, contractor, {"body": "Yes, Saturday at nine."}, 201))
    world.ids["open_job"] = open_job["id"]
    world.ids["to_bid"] = [await post_job(world, "homeowner", f"Dripping faucet no. {n}") for n in (1, 2)]

    # Two jobs in progress, the first invoiced three times (two invoices to pay, one left open).
    working = await in_progress(world, "homeowner")
    await in_progress(world, "homeowner")
    world.ids["to_pay"] = []
    for n in range(3):
        lines = [{"description": f"Part {n}", "quantity": 1, "unit_cents": 9_000}]
        created = await world.send(
            world.call("POST", "/invoices", "contractor", {"job_id": working["id"], "lines": lines}, 201)
        )
        sent = await world.send(world.call("POST", f"/invoices/{created['id']}/send", "contractor"))
        world.ids["to_pay"].append((sent["id"], sent["total_cents"]))

    # The payer's bids to accept, jobs to complete, and one job done whose money is paid out.
    world.ids["to_accept"] = [(await contested(world, "payer"))[1] for _ in range(2)]
    world.ids["to_complete"] = [(await in_progress(world, "payer"))["id"] for _ in range(2)]
    done = await in_progress(world, "payer")
    await world.send(world.call("POST", f"/jobs/{done['id']}/complete", "payer"))
    for _ in range(2):
        await world.send(world.call("POST", "/payouts", "contractor", {"amount_cents": 1_000}, 201))


# -- the requests: attempt 0 warms up, attempt 1 is counted --------------------------------

Plan = Callable[[World, int], Call]


def get(path: str, who: str) -> Plan:
    """The same read, both attempts; ``{name}`` in the path is the arranged id ``name``."""
    return lambda w, _: w.call("GET", path.format(**w.ids), who)


def _login(w: World, _: int) -> Call:
    return Call("POST", "/api/v1/auth/login", {}, {"email": w.emails["homeowner"], "password": PASSWORD})


def _post_job(w: World, n: int) -> Call:
    return w.call("POST", "/jobs", "homeowner", JOB | {"title": f"Broken garage door no. {n}"}, 201)


def _post_bid(w: World, n: int) -> Call:
    job = w.ids["to_bid"][n]
    body = {"amount_cents": job["estimate"]["price_low_cents"], "message": BID_MESSAGE}
    return w.call("POST", f"/jobs/{job['id']}/bids", "contractor", body, 201)


def _contractor_writes(w: World, n: int) -> Call:
    body = {"body": f"The parts are ordered (note {n})."}
    return w.call("POST", f"/jobs/{w.ids['open_job']}/messages", "contractor", body, 201)


def _homeowner_writes(w: World, n: int) -> Call:
    body = {"body": f"Thanks, see you then (note {n}).", "contractor_id": w.ids["contractor"]}
    return w.call("POST", f"/jobs/{w.ids['open_job']}/messages", "homeowner", body, 201)


def _accept(w: World, n: int) -> Call:
    return accepting(w, "payer", w.ids["to_accept"][n])


def _complete(w: World, n: int) -> Call:
    return w.call("POST", f"/jobs/{w.ids['to_complete'][n]}/complete", "payer")


def _pay(w: World, n: int) -> Call:
    invoice_id, total = w.ids["to_pay"][n]
    return w.call("POST", f"/invoices/{invoice_id}/pay", "homeowner", {"amount_cents": total})


PLANS: dict[str, Plan] = {
    "GET /me": get("/me", "homeowner"),
    "GET /notifications": get("/notifications", "homeowner"),
    "GET /threads": get("/threads", "homeowner"),
    "GET /jobs?territory (browse)": get(f"/jobs?territory={FIPS}", "homeowner"),
    "GET /jobs?q (search)": get(f"/jobs?q=faucet&territory={FIPS}", "homeowner"),
    "GET /jobs?mine": get("/jobs?mine=true", "homeowner"),
    "GET /jobs?mine&status": get("/jobs?mine=true&status=in_progress", "homeowner"),
    "GET /jobs/{id}/bids (homeowner)": get("/jobs/{open_job}/bids", "homeowner"),
    "GET /invoices (homeowner)": get("/invoices", "homeowner"),
    "GET /invoices (contractor)": get("/invoices", "contractor"),
    "GET /analytics/contractor": get("/analytics/contractor", "contractor"),
    "GET /jobs/{id} (contractor)": get("/jobs/{open_job}", "contractor"),
    "GET /jobs/{id}/messages (contractor)": get("/jobs/{open_job}/messages", "contractor"),
    "GET /crm/customers": get("/crm/customers", "contractor"),
    "GET /balance": get("/balance", "contractor"),
    "GET /payouts": get("/payouts", "contractor"),
    "GET /territories/{fips}": get(f"/territories/{FIPS}", "homeowner"),
    "GET /analytics/territory/{fips} (operator)": get(f"/analytics/territory/{FIPS}", "operator"),
    "POST /auth/login": _login,
    "POST /jobs": _post_job,
    "POST /jobs/{id}/bids": _post_bid,
    "POST /jobs/{id}/messages (contractor)": _contractor_writes,
    "POST /jobs/{id}/messages (homeowner)": _homeowner_writes,
    "POST /bids/{id}/accept": _accept,
    "POST /jobs/{id}/complete": _complete,
    "POST /invoices/{id}/pay": _pay,
}


def test_every_budget_has_its_request() -> None:
    assert set(BUDGETS) == set(PLANS)


@pytest.mark.parametrize("name", list(BUDGETS))
async def test_one_request_costs_its_budget(name: str, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.recorder.watch_redis(monkeypatch)
    plan = PLANS[name]
    await world.send(plan(world, 0))
    async with world.recorder.counting() as seen:
        await world.send(plan(world, 1))
    assert seen.measured == BUDGETS[name], f"{name} costs {seen.measured}:\n{seen.report()}"
