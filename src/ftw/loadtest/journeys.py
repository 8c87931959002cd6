"""The Locust file: homeowner, contractor and operator journeys over seeded accounts.

Accounts come from the pool file the runner writes (FTW_LOADTEST_POOL): active seeded users by
role with their county, all sharing the seed password. Each journey is a sequential task set
with think time between steps; reads dominate, writes happen on a share of the passes. The
journeys view web pages too (named ``page /...``), signed in by the session cookies holding
the same tokens; static files are left out, as a returning browser has them cached.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from pathlib import Path
from typing import Any

from locust import FastHttpUser, SequentialTaskSet, between, task
from locust.contrib.fasthttp import ResponseContextManager

from ftw.config import get_settings
from ftw.loadtest import photo
from ftw.ops.seed import SEED_PASSWORD

API = "/api/v1"
SEARCH_WORDS = ("faucet", "water heater", "roof leak", "outlet", "paint", "fence", "furnace", "drywall")
POST_JOB_SHARE, ACCEPT_SHARE, MESSAGE_SHARE, COMPLETE_SHARE = 0.05, 0.3, 0.3, 0.5
BID_SHARE, PHOTO_SHARE = 0.15, 0.2
REFRESH_AFTER_S = 600  # of the 15-minute access token
PHOTO = photo.png()


def _pool() -> dict[str, list[dict[str, Any]]]:
    path = os.environ.get("FTW_LOADTEST_POOL")
    if not path:
        raise RuntimeError("FTW_LOADTEST_POOL is not set: run through `ftw loadtest`")
    pool: dict[str, list[dict[str, Any]]] = json.loads(Path(path).read_text())
    return pool


POOL = _pool()


def _expect(response: ResponseContextManager, *codes: int) -> Any:
    """Mark `response` failed unless its status is one of `codes`; its JSON body on success."""
    if response.status_code in codes:
        response.success()
        return response.json() if response.text else None
    response.failure(f"{response.status_code}: {(response.text or '')[:200]}")
    return None


def _multipart(boundary: str, field: str, filename: str, content: bytes) -> bytes:
    """One file as a multipart/form-data body (Locust's fast client has no `files=`)."""
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        "Content-Type: image/png\r\n\r\n"
    )
    return head.encode() + content + f"\r\n--{boundary}--\r\n".encode()


class Journey(SequentialTaskSet):
    """Shared steps: sign in with a pooled account, read the dashboard, browse and search."""

    role = ""

    def on_start(self) -> None:
        self.account = random.choice(POOL[self.role])
        self.fips: str = self.account["fips"]
        self.open_jobs: list[dict[str, Any]] = []
        # Each user comes from an address of its own, as behind the production load balancer:
        # the server under test must trust the generator as a proxy (FTW_TRUSTED_PROXIES),
        # or every sign-in shares one address's anonymous rate limit.
        address = ".".join(str(random.randrange(1, 255)) for _ in range(3))
        self.forwarded = {"X-Forwarded-For": f"10.{address}"}
        self.tokens("/auth/login", {"email": self.account["email"], "password": SEED_PASSWORD})

    def tokens(self, path: str, body: dict[str, str]) -> None:
        """Sign in or rotate the refresh token; access tokens live 15 minutes, runs longer."""
        with self.client.post(
            f"{API}{path}", json=body, headers=self.forwarded, name=path.lstrip("/"), catch_response=True
        ) as response:
            pair = _expect(response, 200)
        bearer = {"Authorization": f"Bearer {pair['access_token']}"} if pair else {}
        self.headers = {**self.forwarded, **bearer}
        # The browser session of web/session.py: the same access and refresh tokens as cookies.
        # The access token is renewed here before it expires, so a page never rotates the pair.
        cookie = f"ftw_access={pair['access_token']}; ftw_refresh={pair['refresh_token']}" if pair else ""
        self.browser = {**self.forwarded, "Cookie": cookie, "Accept-Encoding": "gzip"}
        self.refresh_token = pair["refresh_token"] if pair else ""
        self.signed_in_at = time.monotonic()

    def fresh(self) -> dict[str, str]:
        """The auth headers, refreshed first when the access token is near its end."""
        if self.refresh_token and time.monotonic() - self.signed_in_at > REFRESH_AFTER_S:
            self.tokens("/auth/refresh", {"refresh_token": self.refresh_token})
        return self.headers

    def get(self, path: str, name: str) -> Any:
        with self.client.get(
            f"{API}{path}", headers=self.fresh(), name=name, catch_response=True
        ) as response:
            return _expect(response, 200)

    def page(self, path: str, name: str) -> None:
        """A web page as a signed-in browser loads it (the HTML: static files are cached)."""
        self.fresh()
        name = f"page {name}"
        with self.client.get(path, headers=self.browser, name=name, catch_response=True) as response:
            if response.status_code == 200 and "text/html" in response.headers.get("content-type", ""):
                response.success()
            else:
                response.failure(f"{response.status_code}: {(response.text or '')[:200]}")

    def post(self, path: str, name: str, body: Any, *codes: int, **headers: str) -> Any:
        with self.client.post(
            f"{API}{path}",
            json=body,
            headers={**self.fresh(), **headers},
            name=name,
            catch_response=True,
        ) as response:
            return _expect(response, *codes)

    @task
    def dashboard(self) -> None:
        self.get("/me", "me")
        self.get("/notifications", "notifications")
        self.get("/threads", "threads")

    @task
    def home_page(self) -> None:
        path = {"homeowner": "/dashboard", "contractor": "/board"}.get(self.role)
        if path is None:
            self.page(f"/counties/{self.fips}", "/counties/{fips}")
        else:
            self.page(path, path)

    @task
    def browse(self) -> None:
        page = self.get(f"/jobs?territory={self.fips}", "jobs?territory")
        self.open_jobs = page["items"] if page else []

    @task
    def search(self) -> None:
        self.get(f"/jobs?q={random.choice(SEARCH_WORDS)}&territory={self.fips}", "jobs?q")


class HomeownerJourney(Journey):
    """Browse, post a job now and then, read bids, accept one, message, complete and review."""

    role = "homeowner"

    @task
    def post_job(self) -> None:
        if random.random() >= POST_JOB_SHARE:
            return
        job = self.post(
            "/jobs",
            "jobs [post]",
            {
                "title": "Leaking kitchen faucet",
                "description": "The kitchen faucet drips all day and the handle is loose at the base.",
                "trade": "plumbing",
                "zip": self.account["zip"],
            },
            201,
        )
        if job and random.random() < PHOTO_SHARE:
            boundary = uuid.uuid4().hex
            with self.client.post(
                f"{API}/jobs/{job['id']}/photos",
                data=_multipart(boundary, "files", "leak.png", PHOTO),
                headers={**self.fresh(), "Content-Type": f"multipart/form-data; boundary={boundary}"},
                name="jobs/{id}/photos",
                catch_response=True,
            ) as response:
                _expect(response, 201)

    @task
    def bids(self) -> None:
        page = self.get("/jobs?mine=true", "jobs?mine")
        jobs = page["items"] if page else []
        if not jobs:
            return
        job = random.choice(jobs)
        bids = self.get(f"/jobs/{job['id']}/bids?status=pending", "jobs/{id}/bids")
        pending = bids["items"] if bids else []
        if not pending:
            return
        bid = random.choice(pending)
        if random.random() < MESSAGE_SHARE:
            body = {"body": "Could you come by on Saturday morning?", "contractor_id": bid["contractor_id"]}
            self.post(f"/jobs/{job['id']}/messages", "jobs/{id}/messages [post]", body, 201)
        if random.random() < ACCEPT_SHARE:
            # 409: another user of the same account accepted first.
            self.post(
                f"/bids/{bid['id']}/accept",
                "bids/{id}/accept",
                None,
                200,
                202,
                409,
                **{"Idempotency-Key": uuid.uuid4().hex},
            )

    @task
    def complete_and_review(self) -> None:
        page = self.get("/jobs?mine=true&status=in_progress", "jobs?mine&status")
        jobs = page["items"] if page else []
        if not jobs or random.random() >= COMPLETE_SHARE:
            return
        job = jobs[0]
        # 409: completed meanwhile by another user of the same account.
        if self.post(f"/jobs/{job['id']}/complete", "jobs/{id}/complete", None, 200, 409):
            review = {"rating": random.choice((4, 5, 5)), "body": "Showed up on time and did clean work."}
            self.post(f"/jobs/{job['id']}/review", "jobs/{id}/review", review, 201, 409)

    @task
    def invoices(self) -> None:
        self.get("/invoices", "invoices")


class ContractorJourney(Journey):
    """Browse and search, read a job, bid on some, message, CRM, invoices, balance and payouts."""

    role = "contractor"

    @task
    def contractor_dashboard(self) -> None:
        self.get("/analytics/contractor", "analytics/contractor")

    @task
    def read_and_bid(self) -> None:
        if not self.open_jobs:
            return
        summary = random.choice(self.open_jobs)
        self.get(f"/jobs/{summary['id']}", "jobs/{id}")
        self.page(f"/jobs/{summary['id']}", "/jobs/{id}")
        if random.random() < BID_SHARE:
            amount = (summary["price_low_cents"] + summary["price_high_cents"]) // 2
            body = {"amount_cents": amount, "message": "Licensed and insured, can start this week."}
            # 409: this contractor already has a live bid, or the job closed meanwhile.
            self.post(f"/jobs/{summary['id']}/bids", "jobs/{id}/bids [post]", body, 201, 409)

    @task
    def message(self) -> None:
        page = self.get("/threads", "threads")
        threads = page["items"] if page else []
        if not threads:
            return
        thread = random.choice(threads)
        self.get(f"/jobs/{thread['job_id']}/messages", "jobs/{id}/messages")
        if random.random() < MESSAGE_SHARE:
            body = {"body": "Thanks, I can bring the parts on the first visit."}
            self.post(f"/jobs/{thread['job_id']}/messages", "jobs/{id}/messages [post]", body, 201)

    @task
    def crm(self) -> None:
        self.get("/crm/customers", "crm/customers")

    @task
    def money(self) -> None:
        self.get("/invoices", "invoices")
        self.get("/balance", "balance")
        self.get("/payouts", "payouts")


class OperatorJourney(Journey):
    """The territory dashboard and its analytics."""

    role = "operator"

    @task
    def territory(self) -> None:
        self.get(f"/territories/{self.fips}", "territories/{fips}")

    @task
    def analytics(self) -> None:
        if self.account["operates"]:
            self.get(f"/analytics/territory/{self.fips}", "analytics/territory/{fips}")

    @task
    def money(self) -> None:
        self.get("/balance", "balance")


PACE = get_settings().loadtest


class Homeowner(FastHttpUser):
    weight = 60
    wait_time = between(PACE.think_min_s, PACE.think_max_s)
    tasks = [HomeownerJourney]


class Contractor(FastHttpUser):
    weight = 35
    wait_time = between(PACE.think_min_s, PACE.think_max_s)
    tasks = [ContractorJourney]


class Operator(FastHttpUser):
    weight = 5
    wait_time = between(PACE.operator_think_min_s, PACE.operator_think_max_s)
    tasks = [OperatorJourney]
