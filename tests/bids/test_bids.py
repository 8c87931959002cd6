"""Placing, editing, withdrawing and boosting bids; blind bidding and the homeowner's order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.analytics.models import JobStats
from ftw.bids.models import Bid, BidBoost
from ftw.billing.models import LedgerEntry, Payment
from ftw.config import Settings
from ftw.core import pagination
from ftw.jobs.models import Job
from ftw.messaging.models import Notification
from tests.conftest import SignUp
from tests.support.market import MESSAGE, CountingSandbox, accept, market, place_bid, post_job


async def _count(session: AsyncSession, model: type[Any], *where: ColumnElement[bool]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_a_contractor_bids_and_the_homeowner_hears_of_it(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    deal = await market(client, sign_up)
    bid = deal.bid
    assert bid["status"] == "pending"
    assert bid["contractor_id"] == deal.contractor.id
    assert bid["job_id"] == deal.job["id"]
    assert bid["is_lightning"] is True  # placed right after posting
    note = await session.scalar(select(Notification).where(Notification.user_id == deal.homeowner.id))
    assert note is not None
    assert (note.kind, note.payload["bid_id"]) == ("bid.new", bid["id"])
    stats = await session.get(JobStats, deal.job["id"])
    assert stats is not None
    assert stats.bids == 1


async def test_contractors_bid_in_any_territory(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    homeowner, far_away = await sign_up(zip="10001"), await sign_up("contractor", zip="90012")
    await place_bid(client, far_away, await post_job(client, homeowner))


async def test_a_bid_after_the_lightning_window_is_not_lightning(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, settings: Settings
) -> None:
    homeowner, contractor = await sign_up(), await sign_up("contractor")
    job = await post_job(client, homeowner)
    minutes = settings.bids.lightning_minutes + 1
    await session.execute(
        update(Job).where(Job.id == job["id"]).values(created_at=func.now() - timedelta(minutes=minutes))
    )
    assert (await place_bid(client, contractor, job))["is_lightning"] is False


@pytest.mark.parametrize(("factor", "field"), [(0.49, "amount_cents"), (3.01, "amount_cents")])
async def test_the_amount_must_lie_between_half_the_low_and_three_times_the_high(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, factor: float, field: str
) -> None:
    homeowner, contractor = await sign_up(), await sign_up("contractor")
    job = await post_job(client, homeowner)
    estimate = job["estimate"]
    base = estimate["price_low_cents"] if factor < 1 else estimate["price_high_cents"]
    response = await client.post(
        f"/api/v1/jobs/{job['id']}/bids",
        json={"amount_cents": int(base * factor), "message": MESSAGE},
        headers=contractor.headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field
    assert "$" in response.json()["detail"]
    assert await _count(session, Bid) == 0


async def test_the_bounds_themselves_are_accepted(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    homeowner = await sign_up()
    job = await post_job(client, homeowner)
    low, high = job["estimate"]["price_low_cents"], job["estimate"]["price_high_cents"]
    await place_bid(client, await sign_up("contractor"), job, amount_cents=-(-low // 2))
    await place_bid(client, await sign_up("contractor"), job, amount_cents=high * 3)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount_cents": 10_000, "message": "too short"}, "message"),
        ({"amount_cents": 10_000, "message": "   "}, "message"),
        ({"amount_cents": 0, "message": MESSAGE}, "amount_cents"),
        ({"amount_cents": "lots", "message": MESSAGE}, "amount_cents"),
        ({"message": MESSAGE}, "amount_cents"),
    ],
)
async def test_bad_bids_name_the_field_and_write_nothing(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, body: dict[str, Any], field: str
) -> None:
    homeowner, contractor = await sign_up(), await sign_up("contractor")
    job = await post_job(client, homeowner)
    response = await client.post(f"/api/v1/jobs/{job['id']}/bids", json=body, headers=contractor.headers)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]
    assert await _count(session, Bid) == 0


async def test_only_contractors_bid(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    homeowner, operator = await sign_up(), await sign_up("operator")
    job = await post_job(client, homeowner)
    body = {"amount_cents": job["estimate"]["price_low_cents"], "message": MESSAGE}
    path = f"/api/v1/jobs/{job['id']}/bids"
    assert (await client.post(path, json=body)).status_code == 401
    assert (await client.post(path, json=body, headers=homeowner.headers)).status_code == 403
    assert (await client.post(path, json=body, headers=operator.headers)).status_code == 403
    assert await _count(session, Bid) == 0


async def test_one_live_bid_per_contractor_per_job(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    deal = await market(client, sign_up)
    again = await client.post(
        f"/api/v1/jobs/{deal.job['id']}/bids",
        json={"amount_cents": deal.bid["amount_cents"], "message": MESSAGE},
        headers=deal.contractor.headers,
    )
    assert again.status_code == 409
    withdrawn = await client.post(f"/api/v1/bids/{deal.bid['id']}/withdraw", headers=deal.contractor.headers)
    assert withdrawn.json()["status"] == "withdrawn"
    await place_bid(client, deal.contractor, deal.job)  # a new live bid after withdrawing


async def test_bids_go_only_to_open_jobs(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    homeowner, contractor = await sign_up(), await sign_up("contractor")
    job = await post_job(client, homeowner)
    await client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=homeowner.headers)
    body = {"amount_cents": job["estimate"]["price_low_cents"], "message": MESSAGE}
    closed = await client.post(f"/api/v1/jobs/{job['id']}/bids", json=body, headers=contractor.headers)
    assert closed.status_code == 409
    missing = await client.post("/api/v1/jobs/999999999/bids", json=body, headers=contractor.headers)
    assert missing.status_code == 404


async def test_the_owner_edits_a_pending_bid(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    deal = await market(client, sign_up)
    path = f"/api/v1/bids/{deal.bid['id']}"
    new_amount = deal.job["estimate"]["price_high_cents"]
    edited = await client.patch(
        path, json={"amount_cents": new_amount, "message": "Revised after the photos."},
        headers=deal.contractor.headers,
    )  # fmt: skip
    assert edited.status_code == 200, edited.text
    assert (edited.json()["amount_cents"], edited.json()["message"]) == (
        new_amount,
        "Revised after the photos.",
    )

    other = await sign_up("contractor")
    assert (
        await client.patch(path, json={"amount_cents": new_amount}, headers=other.headers)
    ).status_code == 403
    too_high = await client.patch(
        path, json={"amount_cents": new_amount * 4}, headers=deal.contractor.headers
    )
    assert (too_high.status_code, too_high.json()["errors"][0]["field"]) == (422, "amount_cents")
    nothing = await client.patch(path, json={}, headers=deal.contractor.headers)
    assert nothing.status_code == 422
    assert (
        await client.patch(
            "/api/v1/bids/999999999", json={"amount_cents": 1}, headers=deal.contractor.headers
        )
    ).status_code == 404

    await client.post(f"{path}/withdraw", headers=deal.contractor.headers)
    late = await client.patch(
        path, json={"message": "Changed my mind again."}, headers=deal.contractor.headers
    )
    assert late.status_code == 409


async def test_only_the_owner_withdraws_and_only_once(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    deal = await market(client, sign_up)
    path = f"/api/v1/bids/{deal.bid['id']}/withdraw"
    assert (await client.post(path, headers=(await sign_up("contractor")).headers)).status_code == 403
    assert (await client.post(path, headers=deal.homeowner.headers)).status_code == 403
    assert (await client.post(path, headers=deal.contractor.headers)).status_code == 200
    assert (await client.post(path, headers=deal.contractor.headers)).status_code == 409


async def test_bidding_is_blind(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    deal = await market(client, sign_up)
    rival = await sign_up("contractor")
    rival_bid = await place_bid(client, rival, deal.job)
    path = f"/api/v1/jobs/{deal.job['id']}/bids"

    def ids(response: httpx.Response) -> set[int]:
        assert response.status_code == 200, response.text
        return {b["id"] for b in response.json()["items"]}

    assert ids(await client.get(path, headers=deal.contractor.headers)) == {deal.bid["id"]}
    assert ids(await client.get(path, headers=rival.headers)) == {rival_bid["id"]}
    assert ids(await client.get(path, headers=(await sign_up("contractor")).headers)) == set()
    assert ids(await client.get(path, headers=deal.homeowner.headers)) == {deal.bid["id"], rival_bid["id"]}

    operator, elsewhere = await sign_up("operator"), await sign_up("operator")
    claimed = await client.post(
        f"/api/v1/territories/{deal.job['territory_fips']}/claim", headers=operator.headers
    )
    assert claimed.status_code == 200
    # Blind to the county's operator too while the job is open (it may bid from another account).
    blind = await client.get(path, headers=operator.headers)
    assert blind.status_code == 403
    assert blind.headers["content-type"] == "application/problem+json"
    accepted = await client.post(f"/api/v1/bids/{deal.bid['id']}/accept", headers=deal.homeowner.headers)
    assert accepted.status_code == 200, accepted.text
    assert len(ids(await client.get(path, headers=operator.headers))) == 2  # after the award
    assert (await client.get(path, headers=elsewhere.headers)).status_code == 403
    assert (await client.get(path, headers=(await sign_up()).headers)).status_code == 403
    assert (await client.get(path)).status_code == 401
    assert (
        await client.get("/api/v1/jobs/999999999/bids", headers=deal.homeowner.headers)
    ).status_code == 404


async def test_the_homeowner_sees_accepted_then_boosted_then_cheapest(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    homeowner = await sign_up()
    job = await post_job(client, homeowner)
    low = job["estimate"]["price_low_cents"]
    contractors = [await sign_up("contractor") for _ in range(4)]
    bids = [
        await place_bid(client, c, job, amount_cents=low + extra)
        for c, extra in zip(contractors, (300, 100, 200, 400), strict=True)
    ]
    boosted = await client.post(f"/api/v1/bids/{bids[3]['id']}/boost", headers=contractors[3].headers)
    assert boosted.status_code == 200, boosted.text
    path = f"/api/v1/jobs/{job['id']}/bids"
    order = [b["id"] for b in (await client.get(path, headers=homeowner.headers)).json()["items"]]
    assert order == [bids[3]["id"], bids[1]["id"], bids[2]["id"], bids[0]["id"]]

    assert (await accept(client, homeowner, bids[0])).status_code == 200
    listed = (await client.get(path, headers=homeowner.headers)).json()["items"]
    assert [b["id"] for b in listed] == [bids[0]["id"], bids[1]["id"], bids[2]["id"], bids[3]["id"]]
    assert [b["status"] for b in listed] == ["accepted", "rejected", "rejected", "rejected"]
    rejected = (await client.get(path, params={"status": "rejected"}, headers=homeowner.headers)).json()
    assert len(rejected["items"]) == 3


async def test_pages_walk_a_jobs_bids_without_gaps(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    homeowner = await sign_up()
    job = await post_job(client, homeowner)
    low = job["estimate"]["price_low_cents"]
    placed = [await place_bid(client, await sign_up("contractor"), job, amount_cents=low) for _ in range(5)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await client.get(f"/api/v1/jobs/{job['id']}/bids", params=params, headers=homeowner.headers)
        seen += [b["id"] for b in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(b["id"] for b in placed)  # same amount: by id
    bad = await client.get(
        f"/api/v1/jobs/{job['id']}/bids", params={"cursor": "nope"}, headers=homeowner.headers
    )
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "cursor")


async def test_a_contractor_lists_its_own_bids_newest_first(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    contractor, homeowner = await sign_up("contractor"), await sign_up()
    jobs = [await post_job(client, homeowner) for _ in range(3)]
    placed = [await place_bid(client, contractor, job) for job in jobs]
    await place_bid(client, await sign_up("contractor"), jobs[0])  # someone else's
    await client.post(f"/api/v1/bids/{placed[0]['id']}/withdraw", headers=contractor.headers)
    mine = await client.get("/api/v1/bids", params={"mine": "true", "limit": 2}, headers=contractor.headers)
    first = mine.json()
    assert [b["id"] for b in first["items"]] == [placed[2]["id"], placed[1]["id"]]
    rest = await client.get(
        "/api/v1/bids", params={"cursor": first["next_cursor"]}, headers=contractor.headers
    )
    assert [b["id"] for b in rest.json()["items"]] == [placed[0]["id"]]
    pending = await client.get("/api/v1/bids", params={"status": "pending"}, headers=contractor.headers)
    assert len(pending.json()["items"]) == 2
    assert (await client.get("/api/v1/bids", headers=homeowner.headers)).status_code == 403


async def test_a_boost_costs_five_dollars_and_lasts_a_day(
    client: httpx.AsyncClient,
    sign_up: SignUp,
    session: AsyncSession,
    sandbox: CountingSandbox,
    settings: Settings,
) -> None:
    deal = await market(client, sign_up)
    boosted = await client.post(f"/api/v1/bids/{deal.bid['id']}/boost", headers=deal.contractor.headers)
    assert boosted.status_code == 200, boosted.text
    until = datetime.fromisoformat(boosted.json()["boosted_until"])
    hours = timedelta(hours=settings.bids.boost_hours)
    assert hours - timedelta(minutes=1) < until - datetime.now(UTC) <= hours
    payment = await session.scalar(select(Payment).where(Payment.bid_id == deal.bid["id"]))
    assert payment is not None
    assert (payment.purpose, payment.status, payment.amount_cents) == ("boost", "succeeded", 500)
    assert [c.amount_cents for c in sandbox.charges] == [settings.fees.boost_price_cents]
    entries = (await session.execute(select(LedgerEntry.account, LedgerEntry.amount_cents))).all()
    assert sorted(entries) == [("card", -500), ("platform", 500)]
    again = await client.post(f"/api/v1/bids/{deal.bid['id']}/boost", headers=deal.contractor.headers)
    assert again.status_code == 409
    assert len(sandbox.charges) == 1


async def test_at_most_two_live_boosts_per_job(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, sandbox: CountingSandbox
) -> None:
    homeowner = await sign_up()
    job = await post_job(client, homeowner)
    contractors = [await sign_up("contractor") for _ in range(3)]
    bids = [await place_bid(client, c, job) for c in contractors]
    outcomes = [
        (await client.post(f"/api/v1/bids/{b['id']}/boost", headers=c.headers)).status_code
        for b, c in zip(bids, contractors, strict=True)
    ]
    assert outcomes == [200, 200, 409]
    assert len(sandbox.charges) == 2
    # Once a boost ends, its slot frees up.
    await session.execute(update(BidBoost).where(BidBoost.bid_id == bids[0]["id"]).values(ends_at=func.now()))
    third = await client.post(f"/api/v1/bids/{bids[2]['id']}/boost", headers=contractors[2].headers)
    assert third.status_code == 200


async def test_a_declined_boost_is_402_and_keeps_only_the_failed_payment(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    deal = await market(client, sign_up)
    declined = await client.post(
        f"/api/v1/bids/{deal.bid['id']}/boost",
        json={"payment_method": "pm_card_declined"},
        headers=deal.contractor.headers,
    )
    assert declined.status_code == 402
    assert declined.headers["content-type"] == "application/problem+json"
    assert "declined" in declined.json()["detail"]
    payment = await session.scalar(select(Payment).where(Payment.bid_id == deal.bid["id"]))
    assert payment is not None
    assert payment.status == "failed"
    assert await _count(session, BidBoost) == 0
    assert await _count(session, LedgerEntry) == 0
    bid = await session.get(Bid, deal.bid["id"])
    assert bid is not None
    await session.refresh(bid)
    assert bid.boosted_until is None
    retried = await client.post(f"/api/v1/bids/{deal.bid['id']}/boost", headers=deal.contractor.headers)
    assert retried.status_code == 200  # a fresh attempt with a good card


async def test_a_boost_retried_with_its_idempotency_key_charges_once(
    client: httpx.AsyncClient, sign_up: SignUp, sandbox: CountingSandbox
) -> None:
    deal = await market(client, sign_up)
    headers = deal.contractor.headers | {"Idempotency-Key": "boost-1"}
    first = await client.post(f"/api/v1/bids/{deal.bid['id']}/boost", headers=headers)
    second = await client.post(f"/api/v1/bids/{deal.bid['id']}/boost", headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json()["boosted_until"] == second.json()["boosted_until"]
    assert len(sandbox.charges) == 1


async def test_only_the_bids_owner_boosts(
    client: httpx.AsyncClient, sign_up: SignUp, sandbox: CountingSandbox
) -> None:
    deal = await market(client, sign_up)
    path = f"/api/v1/bids/{deal.bid['id']}/boost"
    assert (await client.post(path, headers=(await sign_up("contractor")).headers)).status_code == 403
    assert (await client.post(path, headers=deal.homeowner.headers)).status_code == 403
    assert (await client.post(path)).status_code == 401
    bad_key = await client.post(path, headers=deal.contractor.headers | {"Idempotency-Key": "x" * 65})
    assert (bad_key.status_code, bad_key.json()["errors"][0]["field"]) == (422, "Idempotency-Key")
    assert sandbox.charges == []


async def test_input_the_database_cannot_hold_is_a_422_not_a_500(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    deal = await market(client, sign_up)
    nul = await client.patch(
        f"/api/v1/bids/{deal.bid['id']}",
        json={"message": "Fine\u0000 print here"},
        headers=deal.contractor.headers,
    )
    assert (nul.status_code, nul.json()["errors"][0]["field"]) == (422, "message")
    huge = await client.get(f"/api/v1/jobs/{2**64}/bids", headers=deal.homeowner.headers)
    assert (huge.status_code, huge.json()["errors"][0]["field"]) == (422, "job_id")
    forged = pagination.encode(0, 0, 2**70)
    page = await client.get(
        f"/api/v1/jobs/{deal.job['id']}/bids", params={"cursor": forged}, headers=deal.homeowner.headers
    )
    assert (page.status_code, page.json()["errors"][0]["field"]) == (422, "cursor")
    naive = pagination.encode("2030-01-01T00:00:00", 5)
    mine = await client.get("/api/v1/bids", params={"cursor": naive}, headers=deal.contractor.headers)
    assert (mine.status_code, mine.json()["errors"][0]["field"]) == (422, "cursor")
