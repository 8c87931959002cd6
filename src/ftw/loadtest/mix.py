"""The launch request mix for the open-loop bench: the journeys' requests in their proportions.

Shares follow the Locust journeys (journeys.py) at their user weights (homeowner 60 %,
contractor 35 %, operator 5 %): per pass a homeowner reads its dashboard, browses, searches,
lists its jobs and their bids and its invoices; a contractor adds a job, its analytics, a
thread, its CRM, invoices, balance and payouts; an operator its territory. Writes (posting
jobs, bids and messages, accepting a bid, signing in) are a few percent, as on launch day.

The bench mints access tokens with the server's own signing key instead of signing every
account in (an argon2 hash each); sign-ins are in the mix at the rate sessions start.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from ftw.config import Settings
from ftw.core.db import sync_libpq_url
from ftw.core.security import issue_access_token
from ftw.loadtest.generator import Request, render
from ftw.ops.seed import SEED_PASSWORD

API = "/api/v1"
SEARCH_WORDS = ("faucet", "water heater", "roof leak", "outlet", "paint", "fence", "furnace", "drywall")
SAMPLE = 2_000  # accounts, jobs and threads sampled per kind


@dataclass
class Population:
    """Seeded rows the mix's requests are made of."""

    homeowners: list[asyncpg.Record] = field(default_factory=list)
    contractors: list[asyncpg.Record] = field(default_factory=list)
    operators: list[asyncpg.Record] = field(default_factory=list)
    open_jobs: list[asyncpg.Record] = field(default_factory=list)
    owned_jobs: list[asyncpg.Record] = field(default_factory=list)  # jobs with bids, and their owner
    pending_bids: list[asyncpg.Record] = field(default_factory=list)  # one per open job
    threads: list[asyncpg.Record] = field(default_factory=list)


_USERS = """
SELECT id, role, email, is_pro, territory_fips AS fips, zip FROM users
WHERE role = $1 AND is_active AND territory_fips IS NOT NULL AND email LIKE '%@example.com'
ORDER BY random() LIMIT $2
"""
_OPEN_JOBS = """
SELECT id, territory_fips AS fips, price_low_cents, price_high_cents FROM jobs
WHERE status = 'open' ORDER BY random() LIMIT $1
"""
_OWNED_JOBS = """
SELECT j.id, j.homeowner_id, u.is_pro FROM jobs j JOIN users u ON u.id = j.homeowner_id
WHERE EXISTS (SELECT 1 FROM bids b WHERE b.job_id = j.id) ORDER BY random() LIMIT $1
"""
_PENDING_BIDS = """
SELECT DISTINCT ON (j.id) b.id, j.homeowner_id, u.is_pro
FROM jobs j JOIN bids b ON b.job_id = j.id AND b.status = 'pending' JOIN users u ON u.id = j.homeowner_id
WHERE j.id IN (SELECT id FROM jobs WHERE status = 'open' ORDER BY random() LIMIT $1)
ORDER BY j.id, b.id
"""
_THREADS = """
SELECT t.job_id, t.homeowner_id, t.contractor_id, u.is_pro FROM threads t
JOIN jobs j ON j.id = t.job_id AND j.status IN ('open', 'awarded', 'in_progress')
JOIN users u ON u.id = t.homeowner_id
ORDER BY random() LIMIT $1
"""


async def sample(database_url: str, size: int = SAMPLE) -> Population:
    """Random seeded accounts, jobs, bids and threads; refuses an unseeded database."""
    conn = await asyncpg.connect(sync_libpq_url(database_url))
    try:
        population = Population(
            homeowners=await conn.fetch(_USERS, "homeowner", size),
            contractors=await conn.fetch(_USERS, "contractor", size),
            operators=await conn.fetch(_USERS, "operator", size),
            open_jobs=await conn.fetch(_OPEN_JOBS, size),
            owned_jobs=await conn.fetch(_OWNED_JOBS, size),
            pending_bids=await conn.fetch(_PENDING_BIDS, size),
            threads=await conn.fetch(_THREADS, size),
        )
    finally:
        await conn.close()
    empty = [name for name, rows in vars(population).items() if not rows]
    if empty:
        raise RuntimeError(f"the database has no seeded {', '.join(empty)}: run `ftw seed` first")
    return population


class Mix:
    """Draws requests of the launch mix, each for a random sampled account."""

    def __init__(self, population: Population, settings: Settings, *, host: str, seed: int = 0) -> None:
        self.population, self.settings, self.host = population, settings, host
        self.random = random.Random(seed)
        self.tokens: dict[int, dict[str, str]] = {}
        # Requests per 1,000 of the mix.
        shares: tuple[tuple[Callable[[], Request], float], ...] = (
            (self._me, 87),
            (self._notifications, 87),
            (self._threads, 117),
            (self._browse, 87),
            (self._search, 87),
            (self._my_jobs, 52),
            (self._my_jobs_in_progress, 52),
            (self._bids_on_my_job, 48),
            (self._invoices, 83),
            (self._contractor_analytics, 30),
            (self._job_detail, 30),
            (self._thread_messages, 26),
            (self._crm, 30),
            (self._balance, 35),
            (self._payouts, 30),
            (self._territory, 5),
            (self._territory_analytics, 3),
            (self._login, 9),
            (self._post_job, 3),
            (self._post_bid, 5),
            (self._post_message, 9),
            (self._accept, 1),
        )
        self.builders = [builder for builder, _ in shares]
        self.weights = [weight for _, weight in shares]

    def next(self) -> Request:
        return self.random.choices(self.builders, self.weights)[0]()

    # -- helpers ---------------------------------------------------------------------------

    def _headers(self, user_id: int, role: str, pro: bool) -> dict[str, str]:
        """Bearer headers for the user, minted once per run (tokens live 15 minutes)."""
        if user_id not in self.tokens:
            token, _ = issue_access_token(self.settings.auth, user_id=user_id, role=role, pro=pro)
            self.tokens[user_id] = {"Authorization": f"Bearer {token}"}
        return self.tokens[user_id]

    def _as(self, account: asyncpg.Record) -> dict[str, str]:
        return self._headers(account["id"], account["role"], account["is_pro"])

    def _anyone(self) -> asyncpg.Record:
        kind = self.random.choices(
            (self.population.homeowners, self.population.contractors, self.population.operators),
            (60, 35, 5),
        )[0]
        return self.random.choice(kind)

    def _get(self, name: str, path: str, headers: dict[str, str], *ok: int) -> Request:
        return render(
            "GET", API + path, host=self.host, headers=headers, name=name, ok=frozenset(ok or (200,))
        )

    def _post(self, name: str, path: str, headers: dict[str, str], body: Any, *ok: int) -> Request:
        return render(
            "POST",
            API + path,
            host=self.host,
            headers={**headers, "Content-Type": "application/json"},
            body=b"" if body is None else json.dumps(body).encode(),
            name=name,
            ok=frozenset(ok),
        )

    def _homeowner(self) -> asyncpg.Record:
        return self.random.choice(self.population.homeowners)

    def _contractor(self) -> asyncpg.Record:
        return self.random.choice(self.population.contractors)

    def _operator(self) -> asyncpg.Record:
        return self.random.choice(self.population.operators)

    def _owner_of(self, row: asyncpg.Record) -> dict[str, str]:
        return self._headers(row["homeowner_id"], "homeowner", row["is_pro"])

    # -- the requests ----------------------------------------------------------------------

    def _me(self) -> Request:
        return self._get("me", "/me", self._as(self._anyone()))

    def _notifications(self) -> Request:
        return self._get("notifications", "/notifications", self._as(self._anyone()))

    def _threads(self) -> Request:
        return self._get("threads", "/threads", self._as(self._anyone()))

    def _browse(self) -> Request:
        account = self._anyone()
        return self._get("jobs?territory", f"/jobs?territory={account['fips']}", self._as(account))

    def _search(self) -> Request:
        account = self._anyone()
        word = self.random.choice(SEARCH_WORDS).replace(" ", "+")
        return self._get("jobs?q", f"/jobs?q={word}&territory={account['fips']}", self._as(account))

    def _my_jobs(self) -> Request:
        return self._get("jobs?mine", "/jobs?mine=true", self._as(self._homeowner()))

    def _my_jobs_in_progress(self) -> Request:
        path = "/jobs?mine=true&status=in_progress"
        return self._get("jobs?mine&status", path, self._as(self._homeowner()))

    def _bids_on_my_job(self) -> Request:
        job = self.random.choice(self.population.owned_jobs)
        return self._get("jobs/{id}/bids", f"/jobs/{job['id']}/bids", self._owner_of(job))

    def _invoices(self) -> Request:
        account = self._homeowner() if self.random.random() < 0.6 else self._contractor()
        return self._get("invoices", "/invoices", self._as(account))

    def _contractor_analytics(self) -> Request:
        return self._get("analytics/contractor", "/analytics/contractor", self._as(self._contractor()))

    def _job_detail(self) -> Request:
        job = self.random.choice(self.population.open_jobs)
        return self._get("jobs/{id}", f"/jobs/{job['id']}", self._as(self._contractor()))

    def _thread_messages(self) -> Request:
        thread = self.random.choice(self.population.threads)
        headers = self._headers(thread["contractor_id"], "contractor", False)
        return self._get("jobs/{id}/messages", f"/jobs/{thread['job_id']}/messages", headers)

    def _crm(self) -> Request:
        return self._get("crm/customers", "/crm/customers", self._as(self._contractor()))

    def _balance(self) -> Request:
        account = self._contractor() if self.random.random() < 0.85 else self._operator()
        return self._get("balance", "/balance", self._as(account))

    def _payouts(self) -> Request:
        return self._get("payouts", "/payouts", self._as(self._contractor()))

    def _territory(self) -> Request:
        account = self._operator()
        return self._get("territories/{fips}", f"/territories/{account['fips']}", self._as(account))

    def _territory_analytics(self) -> Request:
        # An operator reads its own county's figures; one without a county gets its 403.
        account = self._operator()
        path = f"/analytics/territory/{account['fips']}"
        return self._get("analytics/territory/{fips}", path, self._as(account), 200, 403)

    def _login(self) -> Request:
        account = self._anyone()
        # Each sign-in from an address of its own, as behind the load balancer.
        address = ".".join(str(self.random.randrange(1, 255)) for _ in range(3))
        body = {"email": account["email"], "password": SEED_PASSWORD}
        return self._post("auth/login", "/auth/login", {"X-Forwarded-For": f"10.{address}"}, body, 200)

    def _post_job(self) -> Request:
        account = self._homeowner()
        body = {
            "title": "Leaking kitchen faucet",
            "description": "The kitchen faucet drips all day and the handle is loose at the base.",
            "trade": "plumbing",
            "zip": account["zip"],
        }
        return self._post("jobs [post]", "/jobs", self._as(account), body, 201)

    def _post_bid(self) -> Request:
        job = self.random.choice(self.population.open_jobs)
        body = {
            "amount_cents": (job["price_low_cents"] + job["price_high_cents"]) // 2,
            "message": "Licensed and insured, can start this week.",
        }
        # 409: this contractor already bids on the job, or it closed meanwhile.
        path = f"/jobs/{job['id']}/bids"
        return self._post("jobs/{id}/bids [post]", path, self._as(self._contractor()), body, 201, 409)

    def _post_message(self) -> Request:
        thread = self.random.choice(self.population.threads)
        path = f"/jobs/{thread['job_id']}/messages"
        if self.random.random() < 0.5:
            body = {
                "body": "Could you come by on Saturday morning?",
                "contractor_id": thread["contractor_id"],
            }
            return self._post("jobs/{id}/messages [post]", path, self._owner_of(thread), body, 201)
        headers = self._headers(thread["contractor_id"], "contractor", False)
        body = {"body": "Thanks, I can bring the parts on the first visit."}
        return self._post("jobs/{id}/messages [post]", path, headers, body, 201)

    def _accept(self) -> Request:
        bid = self.random.choice(self.population.pending_bids)
        # 409: the job was awarded already (an earlier draw accepted a bid on it).
        headers = {**self._owner_of(bid), "Idempotency-Key": f"bench-{bid['id']}"}
        return self._post("bids/{id}/accept", f"/bids/{bid['id']}/accept", headers, None, 200, 202, 409)


def bare(host: str) -> Callable[[], Request]:
    """The framework's ceiling: /healthz answers from memory through the same middleware."""
    request = render("GET", "/healthz", host=host, name="healthz")
    return lambda: request
