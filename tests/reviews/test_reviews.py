"""Reviews after completion, the contractor's one answer, and its public profile."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.config import Settings
from ftw.jobs.models import JobStatus
from ftw.messaging.models import Notification
from ftw.reviews import service
from ftw.reviews.models import ContractorStats, Review
from tests.conftest import Account
from tests.support.market import completed_job, make_user, post_job, set_job_status, write_bid

REVIEW = {"rating": 5, "body": "Fixed the faucet quickly and left the kitchen clean."}


@pytest.fixture
async def pair(session: AsyncSession, settings: Settings) -> tuple[Account, Account]:
    homeowner = await make_user(session, settings, "homeowner", name="Dana Homeowner")
    contractor = await make_user(session, settings, "contractor", name="Chris Contractor")
    return homeowner, contractor


async def _review(client: httpx.AsyncClient, account: Account, job_id: int, **body: Any) -> httpx.Response:
    return await client.post(f"/api/v1/jobs/{job_id}/review", json=REVIEW | body, headers=account.headers)


async def _stats(session: AsyncSession, contractor_id: int) -> ContractorStats:
    stats = await session.scalar(
        select(ContractorStats)
        .where(ContractorStats.contractor_id == contractor_id)
        .execution_options(populate_existing=True)
    )
    assert stats is not None
    return stats


async def test_the_homeowner_reviews_the_contractor_of_a_completed_job(
    client: httpx.AsyncClient, session: AsyncSession, pair: tuple[Account, Account]
) -> None:
    homeowner, contractor = pair
    job = await completed_job(client, session, homeowner, contractor)
    response = await _review(client, homeowner, job["id"])
    assert response.status_code == 201, response.text
    review = response.json()
    assert review["contractor_id"] == contractor.id
    assert review["rating"] == 5
    assert review["reviewer"] == "Dana"
    assert review["response"] is None
    stats = await _stats(session, contractor.id)
    assert (stats.rating_count, stats.rating_sum, stats.rating_avg) == (1, 5, 5.0)
    assert stats.performance_score == service.performance_score(
        rating_sum=5, rating_count=1, jobs_completed=0, responses=0
    )
    notified = await session.scalar(select(Notification).where(Notification.user_id == contractor.id))
    assert notified is not None
    assert notified.kind == "review.new"
    assert notified.payload["rating"] == 5


async def test_the_average_is_kept_to_two_decimals(
    client: httpx.AsyncClient, session: AsyncSession, pair: tuple[Account, Account]
) -> None:
    homeowner, contractor = pair
    for rating in (5, 4, 4):
        job = await completed_job(client, session, homeowner, contractor)
        assert (await _review(client, homeowner, job["id"], rating=rating)).status_code == 201
    stats = await _stats(session, contractor.id)
    assert (stats.rating_count, stats.rating_sum, stats.rating_avg) == (3, 13, 4.33)


async def test_a_job_is_reviewed_once(
    client: httpx.AsyncClient, session: AsyncSession, pair: tuple[Account, Account]
) -> None:
    homeowner, contractor = pair
    job = await completed_job(client, session, homeowner, contractor)
    assert (await _review(client, homeowner, job["id"])).status_code == 201
    again = await _review(client, homeowner, job["id"], rating=1)
    assert again.status_code == 409
    assert (await _stats(session, contractor.id)).rating_count == 1


@pytest.mark.parametrize(
    "status", [JobStatus.OPEN, JobStatus.AWARDED, JobStatus.IN_PROGRESS, JobStatus.CANCELLED]
)
async def test_only_a_completed_job_can_be_reviewed(
    client: httpx.AsyncClient, session: AsyncSession, pair: tuple[Account, Account], status: JobStatus
) -> None:
    homeowner, contractor = pair
    job = await post_job(client, homeowner)
    await write_bid(session, job["id"], contractor, status="accepted")
    await set_job_status(session, job["id"], status)
    assert (await _review(client, homeowner, job["id"])).status_code == 409


async def test_a_completed_job_without_an_accepted_bid_has_nobody_to_review(
    client: httpx.AsyncClient, session: AsyncSession, pair: tuple[Account, Account]
) -> None:
    homeowner, contractor = pair
    job = await post_job(client, homeowner)
    await write_bid(session, job["id"], contractor, status="rejected")
    await set_job_status(session, job["id"], JobStatus.COMPLETED)
    assert (await _review(client, homeowner, job["id"])).status_code == 409


async def test_only_the_jobs_homeowner_reviews(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, pair: tuple[Account, Account]
) -> None:
    homeowner, contractor = pair
    job = await completed_job(client, session, homeowner, contractor)
    other = await make_user(session, settings, "homeowner")
    assert (await _review(client, other, job["id"])).status_code == 403
    assert (await _review(client, contractor, job["id"])).status_code == 403
    assert (await client.post(f"/api/v1/jobs/{job['id']}/review", json=REVIEW)).status_code == 401
    assert (await _review(client, homeowner, 999_999_999)).status_code == 404
    assert await session.scalar(select(func.count()).select_from(Review)) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rating": 0}, "rating"),
        ({"rating": 6}, "rating"),
        ({"rating": "five"}, "rating"),
        ({"body": "Too short"}, "body"),
        ({"body": "   padded   "}, "body"),
        ({"body": "x" * 2_001}, "body"),
    ],
)
async def test_bad_reviews_name_the_field(
    client: httpx.AsyncClient,
    session: AsyncSession,
    pair: tuple[Account, Account],
    body: dict[str, Any],
    field: str,
) -> None:
    homeowner, contractor = pair
    job = await completed_job(client, session, homeowner, contractor)
    response = await _review(client, homeowner, job["id"], **body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_the_contractor_answers_once(
    client: httpx.AsyncClient, session: AsyncSession, pair: tuple[Account, Account]
) -> None:
    homeowner, contractor = pair
    job = await completed_job(client, session, homeowner, contractor)
    review = (await _review(client, homeowner, job["id"])).json()
    before = (await _stats(session, contractor.id)).performance_score
    url = f"/api/v1/reviews/{review['id']}/response"
    answered = await client.post(url, json={"body": "Thank you, Dana!"}, headers=contractor.headers)
    assert answered.status_code == 200, answered.text
    assert answered.json()["response"] == "Thank you, Dana!"
    assert answered.json()["responded_at"] is not None
    assert (await _stats(session, contractor.id)).performance_score == before + service.SCORE.response_points
    again = await client.post(url, json={"body": "Changed my mind"}, headers=contractor.headers)
    assert again.status_code == 409


async def test_only_the_reviewed_contractor_answers(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, pair: tuple[Account, Account]
) -> None:
    homeowner, contractor = pair
    job = await completed_job(client, session, homeowner, contractor)
    review = (await _review(client, homeowner, job["id"])).json()
    url = f"/api/v1/reviews/{review['id']}/response"
    other = await make_user(session, settings, "contractor")
    assert (await client.post(url, json={"body": "Hi"}, headers=other.headers)).status_code == 403
    assert (await client.post(url, json={"body": "Hi"}, headers=homeowner.headers)).status_code == 403
    assert (await client.post(url, json={"body": "Hi"})).status_code == 401
    missing = await client.post(
        "/api/v1/reviews/999999999/response", json={"body": "Hi"}, headers=contractor.headers
    )
    assert missing.status_code == 404
    empty = await client.post(url, json={"body": "  "}, headers=contractor.headers)
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["field"] == "body"


async def test_the_public_profile_and_reviews(
    client: httpx.AsyncClient, session: AsyncSession, pair: tuple[Account, Account]
) -> None:
    homeowner, contractor = pair
    for rating in (3, 5):
        job = await completed_job(client, session, homeowner, contractor)
        await service.on_job_completed(session, contractor_id=contractor.id)
        await _review(client, homeowner, job["id"], rating=rating)
    profile = await client.get(f"/api/v1/contractors/{contractor.id}")
    assert profile.status_code == 200
    body = profile.json()
    assert (body["full_name"], body["rating_avg"], body["rating_count"], body["jobs_completed"]) == (
        "Chris Contractor",
        4.0,
        2,
        2,
    )
    assert body["performance_score"] == service.performance_score(
        rating_sum=8, rating_count=2, jobs_completed=2, responses=0
    )
    assert "email" not in body

    seen, cursor = [], None
    while True:
        params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"/api/v1/contractors/{contractor.id}/reviews", params=params)).json()
        seen += [r["rating"] for r in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == [3, 5]
    assert len(seen) == 2


async def test_a_new_contractor_has_an_empty_profile_and_others_have_none(
    client: httpx.AsyncClient, pair: tuple[Account, Account]
) -> None:
    homeowner, contractor = pair
    fresh = (await client.get(f"/api/v1/contractors/{contractor.id}")).json()
    assert (fresh["rating_count"], fresh["jobs_completed"], fresh["performance_score"]) == (0, 0, 0.0)
    assert (await client.get(f"/api/v1/contractors/{homeowner.id}")).status_code == 404
    assert (await client.get("/api/v1/contractors/999999999/reviews")).status_code == 404
    bad = await client.get(f"/api/v1/contractors/{contractor.id}/reviews", params={"cursor": "x"})
    assert bad.status_code == 422


async def test_completing_a_job_counts_it_and_rescores(
    session: AsyncSession, pair: tuple[Account, Account]
) -> None:
    _, contractor = pair
    await service.on_job_completed(session, contractor_id=contractor.id)
    await service.on_job_completed(session, contractor_id=contractor.id)
    stats = await _stats(session, contractor.id)
    assert stats.jobs_completed == 2
    assert stats.performance_score == service.performance_score(
        rating_sum=0, rating_count=0, jobs_completed=2, responses=0
    )
    stored = await session.scalar(
        text("SELECT performance_score FROM contractor_stats WHERE contractor_id = :id"),
        {"id": contractor.id},
    )
    assert float(stored) == stats.performance_score


def test_the_performance_score_blends_rating_completion_and_responses() -> None:
    newcomer = service.performance_score(rating_sum=0, rating_count=0, jobs_completed=0, responses=0)
    assert newcomer == 25.0  # a neutral 3-star prior, nothing done yet
    one_five_star = service.performance_score(rating_sum=5, rating_count=1, jobs_completed=1, responses=0)
    many_five_stars = service.performance_score(
        rating_sum=100, rating_count=20, jobs_completed=20, responses=0
    )
    assert one_five_star < many_five_stars  # one lucky review does not top the board
    best = service.performance_score(
        rating_sum=10_000, rating_count=2_000, jobs_completed=500, responses=2_000
    )
    assert 99 < best <= 100
    worst = service.performance_score(rating_sum=2_000, rating_count=2_000, jobs_completed=0, responses=0)
    assert 0 <= worst < 1
