"""Accepting a bid and paying for it, payment failures and retries, start and completion."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import Row, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.bids.tasks import TASKS
from ftw.billing.ledger import check
from ftw.billing.models import LedgerEntry, Payment, PaymentEvent
from ftw.billing.payments import MAX_ATTEMPTS
from ftw.config import Settings
from ftw.core.db import Database
from ftw.crm.models import Customer
from ftw.integrations import Integrations
from ftw.integrations.context import TaskContext
from ftw.messaging.models import Notification
from ftw.reviews.models import ContractorStats
from tests.conftest import SignUp
from tests.support.market import CountingSandbox, Market, accept, awarded, market, place_bid

RETRY = "billing.retry_payment"


async def _entries(session: AsyncSession, **where: Any) -> list[Row[str, str, int | None, int]]:
    query = select(LedgerEntry.kind, LedgerEntry.account, LedgerEntry.owner_id, LedgerEntry.amount_cents)
    for name, value in where.items():
        query = query.where(getattr(LedgerEntry, name) == value)
    return sorted((await session.execute(query.order_by(LedgerEntry.id))).all())


async def _payments(session: AsyncSession, job_id: int) -> list[Payment]:
    return list(await session.scalars(select(Payment).where(Payment.job_id == job_id).order_by(Payment.id)))


async def _kinds(session: AsyncSession, user_id: int) -> list[str]:
    return list(await session.scalars(select(Notification.kind).where(Notification.user_id == user_id)))


async def _events(session: AsyncSession, payment_id: int) -> list[str]:
    query = select(PaymentEvent.kind).where(PaymentEvent.payment_id == payment_id).order_by(PaymentEvent.id)
    return list(await session.scalars(query))


async def _queued(session: AsyncSession, task: str = RETRY) -> list[tuple[dict[str, Any], timedelta]]:
    rows = await session.execute(
        text(
            "SELECT payload, execute_after - now() AS delay FROM pgqueuer WHERE entrypoint = :t ORDER BY id"
        ),
        {"t": task},
    )
    return [(json.loads(r.payload), r.delay) for r in rows]


async def _job(client: httpx.AsyncClient, deal: Market) -> dict[str, Any]:
    job: dict[str, Any] = (await client.get(f"/api/v1/jobs/{deal.job['id']}")).json()
    return job


async def _bid_status(client: httpx.AsyncClient, deal: Market, bid_id: int) -> str:
    listed = await client.get(f"/api/v1/jobs/{deal.job['id']}/bids", headers=deal.homeowner.headers)
    statuses: dict[int, str] = {b["id"]: b["status"] for b in listed.json()["items"]}
    return statuses[bid_id]


async def test_accepting_charges_bid_plus_fee_into_escrow_and_awards_the_job(
    client: httpx.AsyncClient,
    sign_up: SignUp,
    session: AsyncSession,
    sandbox: CountingSandbox,
    settings: Settings,
) -> None:
    deal = await market(client, sign_up)
    rival_bid = await place_bid(client, await sign_up("contractor"), deal.job)
    response = await accept(client, deal.homeowner, deal.bid)
    assert response.status_code == 200, response.text
    body = response.json()
    fee = settings.fees.homeowner_platform_fee_cents
    total = deal.bid["amount_cents"] + fee
    assert (body["status"], body["job_id"], body["bid_id"]) == ("awarded", deal.job["id"], deal.bid["id"])
    assert (body["payment"]["amount_cents"], body["payment"]["fee_cents"]) == (total, fee)
    assert body["payment"]["status"] == "succeeded"
    assert [c.amount_cents for c in sandbox.charges] == [total]

    assert (await _job(client, deal))["status"] == "awarded"
    assert await _bid_status(client, deal, deal.bid["id"]) == "accepted"
    assert await _bid_status(client, deal, rival_bid["id"]) == "rejected"
    assert await _entries(session) == sorted(
        [
            ("award_capture", "card", deal.homeowner.id, -total),
            ("award_capture", "escrow", deal.job["id"], total),
        ]
    )
    assert await _events(session, body["payment"]["id"]) == ["created", "attempt", "succeeded"]
    assert "bid.accepted" in await _kinds(session, deal.contractor.id)
    customer = await session.scalar(select(Customer).where(Customer.contractor_id == deal.contractor.id))
    assert customer is not None
    assert customer.homeowner_id == deal.homeowner.id
    assert (await check(session)).ok


async def test_a_repeated_accept_returns_the_same_award_and_charges_once(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, sandbox: CountingSandbox
) -> None:
    deal = await market(client, sign_up)
    first = await accept(client, deal.homeowner, deal.bid)
    again = await accept(client, deal.homeowner, deal.bid)
    keyed = await accept(client, deal.homeowner, deal.bid, key="tab-2")
    assert first.status_code == again.status_code == keyed.status_code == 200
    assert first.json() == again.json() == keyed.json()
    assert len(sandbox.charges) == 1
    assert len(await _payments(session, deal.job["id"])) == 1


async def test_another_bid_on_an_awarded_job_is_a_conflict(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, sandbox: CountingSandbox
) -> None:
    deal = await market(client, sign_up)
    rival_bid = await place_bid(client, await sign_up("contractor"), deal.job)
    assert (await accept(client, deal.homeowner, deal.bid)).status_code == 200
    late = await accept(client, deal.homeowner, rival_bid)
    assert late.status_code == 409
    assert "awarded" in late.json()["detail"]
    assert len(sandbox.charges) == 1
    assert len(await _payments(session, deal.job["id"])) == 1


async def test_only_the_jobs_homeowner_accepts(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, sandbox: CountingSandbox
) -> None:
    deal = await market(client, sign_up)
    path = f"/api/v1/bids/{deal.bid['id']}/accept"
    assert (await client.post(path)).status_code == 401
    assert (await client.post(path, headers=(await sign_up()).headers)).status_code == 403
    assert (await client.post(path, headers=deal.contractor.headers)).status_code == 403
    assert (
        await client.post("/api/v1/bids/999999999/accept", headers=deal.homeowner.headers)
    ).status_code == 404
    bad = await client.post(path, json={"payment_method": ""}, headers=deal.homeowner.headers)
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "payment_method")
    assert sandbox.charges == []
    assert await _payments(session, deal.job["id"]) == []


async def test_a_withdrawn_bid_cannot_be_accepted(
    client: httpx.AsyncClient, sign_up: SignUp, sandbox: CountingSandbox
) -> None:
    deal = await market(client, sign_up)
    await client.post(f"/api/v1/bids/{deal.bid['id']}/withdraw", headers=deal.contractor.headers)
    assert (await accept(client, deal.homeowner, deal.bid)).status_code == 409
    assert sandbox.charges == []


async def test_a_declined_card_is_402_and_leaves_the_job_open_and_the_bid_pending(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    deal = await market(client, sign_up)
    declined = await accept(client, deal.homeowner, deal.bid, method="pm_card_declined")
    assert declined.status_code == 402
    problem = declined.json()
    assert problem["title"] == "Payment required"
    assert "declined" in problem["detail"]
    assert "stays open" in problem["detail"]
    assert problem["errors"][0]["field"] == "payment_method"

    assert (await _job(client, deal))["status"] == "open"
    assert await _bid_status(client, deal, deal.bid["id"]) == "pending"
    [failed] = await _payments(session, deal.job["id"])
    assert (failed.status, failed.failure_reason) == ("failed", "Your card was declined")
    assert await _events(session, failed.id) == ["created", "attempt", "declined"]
    assert await _entries(session) == []
    assert "bid.accepted" not in await _kinds(session, deal.contractor.id)
    assert await session.scalar(select(func.count()).select_from(Customer)) == 0

    paid = await accept(client, deal.homeowner, deal.bid)  # another card
    assert paid.status_code == 200
    assert [p.status for p in await _payments(session, deal.job["id"])] == ["failed", "succeeded"]


async def test_a_provider_outage_is_202_pending_and_the_retry_task_completes_the_award(
    client: httpx.AsyncClient,
    sign_up: SignUp,
    session: AsyncSession,
    sandbox: CountingSandbox,
    settings: Settings,
    database: Database,
    integrations: Integrations,
) -> None:
    deal = await market(client, sign_up)
    pending = await accept(client, deal.homeowner, deal.bid, method="pm_provider_down")
    assert pending.status_code == 202, pending.text
    assert pending.json()["status"] == "pending"
    payment_id = pending.json()["payment"]["id"]
    assert (await _job(client, deal))["status"] == "open"
    assert "payment.pending" in await _kinds(session, deal.homeowner.id)
    [(payload, delay)] = await _queued(session)
    assert payload == {"payment_id": payment_id, "attempt": 1}
    assert delay.total_seconds() > 30  # backed off, not immediate

    sandbox.outage = False
    context = TaskContext(db=database, settings=settings, integrations=integrations)
    await TASKS[RETRY](context, payload)
    await TASKS[RETRY](context, payload)  # a task delivered twice does nothing more
    assert (await _job(client, deal))["status"] == "awarded"
    [payment] = await _payments(session, deal.job["id"])
    await session.refresh(payment)
    assert (payment.status, payment.attempts) == ("succeeded", 2)
    assert await _events(session, payment_id) == ["created", "attempt", "unavailable", "attempt", "succeeded"]
    assert len(sandbox.charges) == 1
    assert "bid.accepted" in await _kinds(session, deal.contractor.id)
    assert (await check(session)).ok


async def test_an_outage_that_outlasts_the_retries_fails_the_payment(
    client: httpx.AsyncClient,
    sign_up: SignUp,
    session: AsyncSession,
    settings: Settings,
    database: Database,
    integrations: Integrations,
) -> None:
    deal = await market(client, sign_up)
    assert (await accept(client, deal.homeowner, deal.bid, method="pm_provider_down")).status_code == 202
    context = TaskContext(db=database, settings=settings, integrations=integrations)
    delays = []
    for _ in range(MAX_ATTEMPTS - 1):
        payload, delay = (await _queued(session))[-1]
        delays.append(delay)
        await TASKS[RETRY](context, payload)
    assert delays == sorted(delays)
    [payment] = await _payments(session, deal.job["id"])
    await session.refresh(payment)
    assert (payment.status, payment.attempts) == ("failed", MAX_ATTEMPTS)
    assert "payment.failed" in await _kinds(session, deal.homeowner.id)
    assert len(await _queued(session)) == MAX_ATTEMPTS - 1  # nothing queued after the last
    assert (await _job(client, deal))["status"] == "open"
    assert await _bid_status(client, deal, deal.bid["id"]) == "pending"


async def test_a_retry_after_another_bid_won_never_charges(
    client: httpx.AsyncClient,
    sign_up: SignUp,
    session: AsyncSession,
    sandbox: CountingSandbox,
    settings: Settings,
    database: Database,
    integrations: Integrations,
) -> None:
    deal = await market(client, sign_up)
    rival_bid = await place_bid(client, await sign_up("contractor"), deal.job)
    assert (await accept(client, deal.homeowner, deal.bid, method="pm_provider_down")).status_code == 202
    assert (await accept(client, deal.homeowner, rival_bid)).status_code == 200
    sandbox.outage = False
    payload, _ = (await _queued(session))[0]
    await TASKS[RETRY](TaskContext(db=database, settings=settings, integrations=integrations), payload)
    payments = await _payments(session, deal.job["id"])
    for p in payments:
        await session.refresh(p)
    assert [(p.bid_id, p.status) for p in payments] == [
        (deal.bid["id"], "failed"),
        (rival_bid["id"], "succeeded"),
    ]
    assert await _events(session, payments[0].id) == ["created", "attempt", "unavailable", "superseded"]
    assert len(sandbox.charges) == 1
    assert await _bid_status(client, deal, rival_bid["id"]) == "accepted"


async def test_accepting_again_while_pending_resumes_the_same_payment(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, sandbox: CountingSandbox
) -> None:
    deal = await market(client, sign_up)
    first = await accept(client, deal.homeowner, deal.bid, method="pm_provider_down")
    assert first.status_code == 202
    still_down = await accept(client, deal.homeowner, deal.bid)
    assert still_down.status_code == 202  # the pending charge keeps its method and key
    sandbox.outage = False
    done = await accept(client, deal.homeowner, deal.bid)
    assert done.status_code == 200
    assert done.json()["payment"]["id"] == first.json()["payment"]["id"]
    assert len(await _payments(session, deal.job["id"])) == 1
    assert len(sandbox.charges) == 1


async def test_a_bid_being_paid_for_cannot_change(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    deal = await market(client, sign_up)
    assert (await accept(client, deal.homeowner, deal.bid, method="pm_provider_down")).status_code == 202
    path = f"/api/v1/bids/{deal.bid['id']}"
    edited = await client.patch(
        path, json={"message": "A different offer now."}, headers=deal.contractor.headers
    )
    assert edited.status_code == 409
    assert (await client.post(f"{path}/withdraw", headers=deal.contractor.headers)).status_code == 409


async def test_completion_releases_escrow_to_the_contractor_and_the_fee_to_the_platform(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, settings: Settings
) -> None:
    deal = await awarded(client, sign_up)
    job_id = deal.job["id"]
    started = await client.post(f"/api/v1/jobs/{job_id}/start", headers=deal.contractor.headers)
    assert (started.status_code, started.json()["status"]) == (200, "in_progress")
    done = await client.post(f"/api/v1/jobs/{job_id}/complete", headers=deal.homeowner.headers)
    assert (done.status_code, done.json()["status"]) == (200, "completed")
    bid, fee = deal.bid["amount_cents"], settings.fees.homeowner_platform_fee_cents
    assert await _entries(session, kind="release") == sorted(
        [
            ("release", "escrow", job_id, -(bid + fee)),
            ("release", "contractor", deal.contractor.id, bid),
            ("release", "platform", None, fee),
        ]
    )
    stats = await session.get(ContractorStats, deal.contractor.id)
    assert stats is not None
    assert stats.jobs_completed == 1
    assert (await check(session)).ok


async def test_the_territorys_operator_earns_its_share_of_the_fee(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, settings: Settings
) -> None:
    operator = await sign_up("operator")
    deal = await awarded(client, sign_up)
    await client.post(f"/api/v1/territories/{deal.job['territory_fips']}/claim", headers=operator.headers)
    await client.post(f"/api/v1/jobs/{deal.job['id']}/start", headers=deal.contractor.headers)
    await client.post(f"/api/v1/jobs/{deal.job['id']}/complete", headers=deal.homeowner.headers)
    fees = settings.fees
    share = fees.homeowner_platform_fee_cents * fees.operator_share_bps // 10_000
    assert share == 200  # 10 % of $20
    released = dict(
        (account, amount) for _, account, _, amount in await _entries(session, kind="release") if amount > 0
    )
    assert released == {
        "contractor": deal.bid["amount_cents"],
        "operator": share,
        "platform": fees.homeowner_platform_fee_cents - share,
    }
    balance = await client.get("/api/v1/balance", headers=operator.headers)
    assert balance.json() == {"available_cents": share, "pending_cents": 0, "held_cents": 0}


async def test_start_and_complete_refuse_the_wrong_people_and_states(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    deal = await awarded(client, sign_up)
    job_id = deal.job["id"]
    start, complete = f"/api/v1/jobs/{job_id}/start", f"/api/v1/jobs/{job_id}/complete"
    assert (await client.post(start, headers=(await sign_up("contractor")).headers)).status_code == 403
    assert (await client.post(start, headers=deal.homeowner.headers)).status_code == 403
    assert (await client.post(start)).status_code == 401
    assert (await client.post(complete, headers=deal.homeowner.headers)).status_code == 409  # not started
    assert (await client.post(start, headers=deal.contractor.headers)).status_code == 200
    assert (await client.post(start, headers=deal.contractor.headers)).status_code == 409
    assert (await client.post(complete, headers=(await sign_up()).headers)).status_code == 403
    assert (await client.post(complete, headers=deal.contractor.headers)).status_code == 403
    assert (await client.post(complete, headers=deal.homeowner.headers)).status_code == 200
    assert (await client.post(complete, headers=deal.homeowner.headers)).status_code == 409
    assert len(await _entries(session, kind="release")) == 3  # escrow, contractor, platform: once
    assert (
        await client.post("/api/v1/jobs/999999999/complete", headers=deal.homeowner.headers)
    ).status_code == 404


async def test_the_payer_reads_its_payment(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    deal = await market(client, sign_up)
    payment_id = (await accept(client, deal.homeowner, deal.bid)).json()["payment"]["id"]
    mine = await client.get(f"/api/v1/payments/{payment_id}", headers=deal.homeowner.headers)
    assert (mine.status_code, mine.json()["purpose"]) == (200, "award")
    assert (
        await client.get(f"/api/v1/payments/{payment_id}", headers=deal.contractor.headers)
    ).status_code == 403
    assert (await client.get("/api/v1/payments/999999999", headers=deal.homeowner.headers)).status_code == 404


async def test_a_declined_accept_replayed_with_its_key_stays_declined(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, sandbox: CountingSandbox
) -> None:
    deal = await market(client, sign_up)
    declined = await accept(client, deal.homeowner, deal.bid, method="pm_card_declined", key="tab-1")
    replayed = await accept(client, deal.homeowner, deal.bid, key="tab-1")  # same attempt: same answer
    assert declined.status_code == replayed.status_code == 402
    fresh = await accept(client, deal.homeowner, deal.bid, key="tab-1-retry")
    assert fresh.status_code == 200
    assert [p.status for p in await _payments(session, deal.job["id"])] == ["failed", "succeeded"]
    assert len(sandbox.charges) == 1


async def test_a_bid_raised_after_the_homeowner_looked_is_not_charged(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, sandbox: CountingSandbox
) -> None:
    """The attack: the contractor raises its bid between the homeowner's look and the accept."""
    deal = await market(client, sign_up)
    seen = deal.bid["amount_cents"]
    raised = await client.patch(
        f"/api/v1/bids/{deal.bid['id']}", json={"amount_cents": seen + 5_000}, headers=deal.contractor.headers
    )
    assert raised.status_code == 200, raised.text
    path = f"/api/v1/bids/{deal.bid['id']}/accept"
    refused = await client.post(path, json={"amount_cents": seen}, headers=deal.homeowner.headers)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["errors"][0]["field"] == "amount_cents"
    assert sandbox.charges == []
    assert await _payments(session, deal.job["id"]) == []
    fresh = await client.post(path, json={"amount_cents": seen + 5_000}, headers=deal.homeowner.headers)
    assert fresh.status_code == 200, fresh.text


async def test_a_retry_finding_another_award_asks_the_provider_and_refunds_what_it_took(
    client: httpx.AsyncClient,
    sign_up: SignUp,
    session: AsyncSession,
    sandbox: CountingSandbox,
    settings: Settings,
    database: Database,
    integrations: Integrations,
) -> None:
    """The worst case: the first attempt was charged but its answer was lost (a timeout);
    meanwhile the homeowner accepted another bid. The retry must not just mark it failed."""
    deal = await market(client, sign_up)
    rival_bid = await place_bid(client, await sign_up("contractor"), deal.job)
    assert (await accept(client, deal.homeowner, deal.bid, method="pm_provider_down")).status_code == 202
    [lost] = await _payments(session, deal.job["id"])
    # What the provider did with the lost answer: it took the money under the payment's key.
    sandbox.outage = False
    await sandbox.charge(
        amount_cents=lost.amount_cents,
        payment_method="pm_card_visa",
        idempotency_key=lost.idempotency_key,
        description="taken, answer lost",
    )
    refunds: list[tuple[str, int, str]] = []
    refund = sandbox.refund

    async def recorded(*, reference: str, amount_cents: int, idempotency_key: str) -> str:
        refunds.append((reference, amount_cents, idempotency_key))
        return await refund(reference=reference, amount_cents=amount_cents, idempotency_key=idempotency_key)

    sandbox.refund = recorded  # type: ignore[method-assign]
    assert (await accept(client, deal.homeowner, rival_bid)).status_code == 200
    payload, _ = (await _queued(session))[0]
    await TASKS[RETRY](TaskContext(db=database, settings=settings, integrations=integrations), payload)
    await session.refresh(lost)
    assert lost.status == "failed"
    assert "refunded" in (lost.failure_reason or "")
    assert refunds == [(lost.provider_ref, lost.amount_cents, f"refund:{lost.id}")]
    assert await _events(session, lost.id) == [
        "created", "attempt", "unavailable", "succeeded", "refunded", "superseded",
    ]  # fmt: skip


async def test_a_paid_job_is_refunded_once_with_reversing_entries(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, sandbox: CountingSandbox
) -> None:
    deal = await awarded(client, sign_up)
    path = f"/api/v1/jobs/{deal.job['id']}/refund"
    [payment] = await _payments(session, deal.job["id"])
    # Cancelling a paid job without its refund is refused; a stranger or the contractor may not refund.
    assert (
        await client.post(f"/api/v1/jobs/{deal.job['id']}/cancel", headers=deal.homeowner.headers)
    ).status_code == 409
    assert (await client.post(path, headers=deal.contractor.headers)).status_code == 403
    refunds: list[tuple[str, int, str]] = []
    refund = sandbox.refund

    async def recorded(*, reference: str, amount_cents: int, idempotency_key: str) -> str:
        refunds.append((reference, amount_cents, idempotency_key))
        return await refund(reference=reference, amount_cents=amount_cents, idempotency_key=idempotency_key)

    sandbox.refund = recorded  # type: ignore[method-assign]
    done = await client.post(path, headers=deal.homeowner.headers)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "cancelled"
    again = await client.post(path, headers=deal.homeowner.headers)
    assert again.status_code == 409  # once
    assert refunds == [(payment.provider_ref, payment.amount_cents, f"refund:{payment.id}")]
    entries = await session.execute(
        select(LedgerEntry.account, LedgerEntry.amount_cents).where(
            LedgerEntry.job_id == deal.job["id"], LedgerEntry.kind == "refund"
        )
    )
    assert sorted(entries.all()) == [("card", payment.amount_cents), ("escrow", -payment.amount_cents)]
    assert (await check(session)).ok


async def test_only_an_admin_refunds_a_job_whose_work_started(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, sandbox: CountingSandbox
) -> None:
    deal = await awarded(client, sign_up)
    await client.post(f"/api/v1/jobs/{deal.job['id']}/start", headers=deal.contractor.headers)
    path = f"/api/v1/jobs/{deal.job['id']}/refund"
    assert (await client.post(path, headers=deal.homeowner.headers)).status_code == 403
