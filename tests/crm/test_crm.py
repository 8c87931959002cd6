"""The CRM: customers from awards, the pipeline, interactions and follow-up sequences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.billing.events import InvoicePaid
from ftw.config import Settings
from ftw.core import tasks
from ftw.core.db import Database
from ftw.crm import service
from ftw.crm import tasks as crm_tasks
from ftw.crm.models import Customer, FollowUp, Interaction
from ftw.messaging.models import Notification
from ftw.worker import Registry, drain
from tests.conftest import Account
from tests.support.market import completed_job, make_user, post_job, recording_integrations, write_bid

CRM_ONLY = Registry(crm_tasks.TASKS)


@pytest.fixture
async def pair(session: AsyncSession, settings: Settings) -> tuple[Account, Account]:
    homeowner = await make_user(session, settings, "homeowner", name="Dana Homeowner")
    contractor = await make_user(session, settings, "contractor", name="Chris Contractor")
    return homeowner, contractor


async def _award(
    client: httpx.AsyncClient, session: AsyncSession, homeowner: Account, contractor: Account
) -> tuple[dict[str, Any], int]:
    job = await post_job(client, homeowner)
    await write_bid(session, job["id"], contractor, status="accepted")
    customer_id = await service.on_award(
        session, contractor_id=contractor.id, homeowner_id=homeowner.id, job_id=job["id"]
    )
    return job, customer_id


async def _customer(session: AsyncSession, customer_id: int) -> Customer:
    customer = await session.scalar(
        select(Customer).where(Customer.id == customer_id).execution_options(populate_existing=True)
    )
    assert customer is not None
    return customer


async def _follow_ups(session: AsyncSession, customer_id: int) -> list[FollowUp]:
    rows = await session.scalars(
        select(FollowUp)
        .where(FollowUp.customer_id == customer_id)
        .order_by(FollowUp.day)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def test_an_award_makes_the_homeowner_a_customer_once(
    client: httpx.AsyncClient, session: AsyncSession, pair: tuple[Account, Account]
) -> None:
    homeowner, contractor = pair
    first_job, customer_id = await _award(client, session, homeowner, contractor)
    _, again = await _award(client, session, homeowner, contractor)
    assert again == customer_id
    customer = await _customer(session, customer_id)
    assert (customer.stage, customer.jobs_count, customer.first_job_id) == ("active", 2, first_job["id"])
    assert await session.scalar(select(func.count()).select_from(Customer)) == 1


async def test_paid_invoices_grow_lifetime_value(
    client: httpx.AsyncClient, session: AsyncSession, pair: tuple[Account, Account]
) -> None:
    homeowner, contractor = pair
    _, customer_id = await _award(client, session, homeowner, contractor)
    for amount in (10_000, 2_550):
        await service.on_invoice_paid(
            session, InvoicePaid(contractor_id=contractor.id, homeowner_id=homeowner.id, amount_cents=amount)
        )
    assert (await _customer(session, customer_id)).lifetime_value_cents == 12_550


async def test_completion_schedules_the_follow_up_sequence(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, pair: tuple[Account, Account]
) -> None:
    homeowner, contractor = pair
    _, customer_id = await _award(client, session, homeowner, contractor)
    done = datetime(2026, 11, 1, 15, 0, tzinfo=UTC)
    scheduled = await service.schedule_follow_ups(
        session, settings=settings, contractor_id=contractor.id, homeowner_id=homeowner.id, completed_at=done
    )
    assert scheduled == 4
    steps = await _follow_ups(session, customer_id)
    assert [(s.day, s.due_at, s.status) for s in steps] == [
        (day, done + timedelta(days=day), "scheduled") for day in settings.crm.follow_up_days
    ]
    assert (await _customer(session, customer_id)).stage == "completed"


async def test_a_repeat_customer_becomes_an_advocate_and_its_sequence_restarts(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, pair: tuple[Account, Account]
) -> None:
    homeowner, contractor = pair
    _, customer_id = await _award(client, session, homeowner, contractor)
    await service.schedule_follow_ups(
        session, settings=settings, contractor_id=contractor.id, homeowner_id=homeowner.id
    )
    await session.execute(update(FollowUp).where(FollowUp.day == 1).values(status="sent"))
    await _award(client, session, homeowner, contractor)
    assert {s.status for s in await _follow_ups(session, customer_id)} == {"sent", "cancelled"}
    await service.schedule_follow_ups(
        session, settings=settings, contractor_id=contractor.id, homeowner_id=homeowner.id
    )
    assert {s.status for s in await _follow_ups(session, customer_id)} == {"scheduled"}
    assert (await _customer(session, customer_id)).stage == "advocate"


async def test_no_customer_no_follow_ups(
    session: AsyncSession, settings: Settings, pair: tuple[Account, Account]
) -> None:
    homeowner, contractor = pair
    assert (
        await service.schedule_follow_ups(
            session, settings=settings, contractor_id=contractor.id, homeowner_id=homeowner.id
        )
        == 0
    )


async def test_a_five_star_review_makes_an_advocate(
    client: httpx.AsyncClient, session: AsyncSession, pair: tuple[Account, Account]
) -> None:
    homeowner, contractor = pair
    job = await completed_job(client, session, homeowner, contractor)
    customer_id = await service.on_award(
        session, contractor_id=contractor.id, homeowner_id=homeowner.id, job_id=job["id"]
    )
    await session.execute(update(Customer).values(stage="completed"))
    review = {"rating": 5, "body": "Excellent, careful and on time."}
    assert (
        await client.post(f"/api/v1/jobs/{job['id']}/review", json=review, headers=homeowner.headers)
    ).status_code == 201
    assert (await _customer(session, customer_id)).stage == "advocate"


async def test_follow_ups_are_sent_once_when_due_and_notify_the_homeowner(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    database: Database,
    pair: tuple[Account, Account],
) -> None:
    homeowner, contractor = pair
    _, customer_id = await _award(client, session, homeowner, contractor)
    await service.schedule_follow_ups(
        session,
        settings=settings,
        contractor_id=contractor.id,
        homeowner_id=homeowner.id,
        completed_at=datetime.now(UTC) - timedelta(days=5),
    )
    integrations, _, _ = recording_integrations(settings)
    for _ in range(2):  # the schedule fires twice: nothing is sent twice
        await tasks.enqueue(session, crm_tasks.SEND_FOLLOW_UPS, {})
        assert await drain(database, settings, integrations, registry=CRM_ONLY) == 1

    assert [(s.day, s.status) for s in await _follow_ups(session, customer_id)] == [
        (1, "sent"),
        (3, "sent"),
        (7, "scheduled"),
        (30, "scheduled"),
    ]
    notes = await session.scalars(
        select(Interaction.note).where(
            Interaction.customer_id == customer_id, Interaction.kind == "follow_up"
        )
    )
    assert sorted(notes) == ["Day 1 follow-up sent", "Day 3 follow-up sent"]
    sent = list(await session.scalars(select(Notification).where(Notification.user_id == homeowner.id)))
    assert [n.kind for n in sent] == ["crm.follow_up", "crm.follow_up"]
    assert sent[0].payload["contractor_name"] == "Chris Contractor"


async def test_a_reply_pauses_the_sequence(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    database: Database,
    pair: tuple[Account, Account],
) -> None:
    homeowner, contractor = pair
    _, customer_id = await _award(client, session, homeowner, contractor)
    await service.schedule_follow_ups(
        session,
        settings=settings,
        contractor_id=contractor.id,
        homeowner_id=homeowner.id,
        completed_at=datetime.now(UTC) - timedelta(days=2),
    )
    reply = await client.post(
        f"/api/v1/crm/customers/{customer_id}/interactions",
        json={"kind": "reply", "note": "Thanks, all good!"},
        headers=contractor.headers,
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["direction"] == "inbound"
    assert {s.status for s in await _follow_ups(session, customer_id)} == {"paused"}
    await tasks.enqueue(session, crm_tasks.SEND_FOLLOW_UPS, {})
    await drain(database, settings, recording_integrations(settings)[0], registry=CRM_ONLY)
    assert {s.status for s in await _follow_ups(session, customer_id)} == {"paused"}


async def test_a_message_from_the_homeowner_is_a_reply(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, pair: tuple[Account, Account]
) -> None:
    homeowner, contractor = pair
    job, customer_id = await _award(client, session, homeowner, contractor)
    await service.schedule_follow_ups(
        session, settings=settings, contractor_id=contractor.id, homeowner_id=homeowner.id
    )
    sent = await client.post(
        f"/api/v1/jobs/{job['id']}/messages",
        json={"body": "One more thing about the sink", "contractor_id": contractor.id},
        headers=homeowner.headers,
    )
    assert sent.status_code == 201
    assert {s.status for s in await _follow_ups(session, customer_id)} == {"paused"}


async def test_the_pipeline_lists_the_contractors_own_customers_in_stage_order(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, pair: tuple[Account, Account]
) -> None:
    homeowner, contractor = pair
    others = [await make_user(session, settings, "homeowner") for _ in range(3)]
    _, active = await _award(client, session, homeowner, contractor)
    ids = [(await _award(client, session, other, contractor))[1] for other in others]
    await session.execute(update(Customer).where(Customer.id == ids[0]).values(stage="inactive"))
    await session.execute(update(Customer).where(Customer.id == ids[1]).values(stage="lead"))
    await session.execute(
        update(Customer)
        .where(Customer.id == ids[2])
        .values(last_interaction_at=func.now() - timedelta(days=1))
    )
    stranger = await make_user(session, settings, "contractor")
    await _award(client, session, homeowner, stranger)

    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await client.get("/api/v1/crm/customers", params=params, headers=contractor.headers)
        assert page.status_code == 200, page.text
        seen += [(c["id"], c["stage"]) for c in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    assert seen == [(ids[1], "lead"), (active, "active"), (ids[2], "active"), (ids[0], "inactive")]
    only = await client.get("/api/v1/crm/customers", params={"stage": "inactive"}, headers=contractor.headers)
    assert [c["id"] for c in only.json()["items"]] == [ids[0]]
    bad = await client.get("/api/v1/crm/customers", params={"stage": "vip"}, headers=contractor.headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "stage"


async def test_only_contractors_use_the_crm_and_only_their_own_customers(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, pair: tuple[Account, Account]
) -> None:
    homeowner, contractor = pair
    _, customer_id = await _award(client, session, homeowner, contractor)
    other = await make_user(session, settings, "contractor")
    url = f"/api/v1/crm/customers/{customer_id}"
    assert (await client.get("/api/v1/crm/customers", headers=homeowner.headers)).status_code == 403
    assert (await client.get("/api/v1/crm/customers")).status_code == 401
    assert (await client.get(url, headers=other.headers)).status_code == 404
    assert (await client.patch(url, json={"stage": "lead"}, headers=other.headers)).status_code == 404
    assert (await client.get(f"{url}/interactions", headers=other.headers)).status_code == 404
    note = {"kind": "note", "note": "Sneaky"}
    assert (await client.post(f"{url}/interactions", json=note, headers=other.headers)).status_code == 404
    assert (
        await client.get("/api/v1/crm/customers/999999999", headers=contractor.headers)
    ).status_code == 404


async def test_a_customers_detail_shows_contact_and_follow_ups(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, pair: tuple[Account, Account]
) -> None:
    homeowner, contractor = pair
    _, customer_id = await _award(client, session, homeowner, contractor)
    await service.schedule_follow_ups(
        session, settings=settings, contractor_id=contractor.id, homeowner_id=homeowner.id
    )
    detail = (await client.get(f"/api/v1/crm/customers/{customer_id}", headers=contractor.headers)).json()
    assert detail["homeowner_name"] == "Dana Homeowner"
    assert detail["email"] == homeowner.email
    assert [f["day"] for f in detail["follow_ups"]] == settings.crm.follow_up_days


async def test_a_lead_is_a_homeowner_the_contractor_bid_for(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, pair: tuple[Account, Account]
) -> None:
    homeowner, contractor = pair
    job = await post_job(client, homeowner)
    stranger = await make_user(session, settings, "homeowner")
    refused = await client.post(
        "/api/v1/crm/customers", json={"homeowner_id": stranger.id}, headers=contractor.headers
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "homeowner_id"

    await write_bid(session, job["id"], contractor)
    lead = await client.post(
        "/api/v1/crm/customers", json={"homeowner_id": homeowner.id}, headers=contractor.headers
    )
    assert lead.status_code == 201, lead.text
    assert (lead.json()["stage"], lead.json()["jobs_count"]) == ("lead", 0)
    detail = (
        await client.get(f"/api/v1/crm/customers/{lead.json()['id']}", headers=contractor.headers)
    ).json()
    assert detail["email"] is None  # no contact details before an award
    twice = await client.post(
        "/api/v1/crm/customers", json={"homeowner_id": homeowner.id}, headers=contractor.headers
    )
    assert twice.status_code == 409

    await service.on_award(session, contractor_id=contractor.id, homeowner_id=homeowner.id, job_id=job["id"])
    won = await _customer(session, lead.json()["id"])
    assert (won.stage, won.jobs_count, won.first_job_id) == ("active", 1, job["id"])


async def test_the_contractor_moves_a_customer_by_hand(
    client: httpx.AsyncClient, session: AsyncSession, pair: tuple[Account, Account]
) -> None:
    homeowner, contractor = pair
    _, customer_id = await _award(client, session, homeowner, contractor)
    url = f"/api/v1/crm/customers/{customer_id}"
    moved = await client.patch(url, json={"stage": "advocate"}, headers=contractor.headers)
    assert moved.status_code == 200
    assert moved.json()["stage"] == "advocate"
    bad = await client.patch(url, json={"stage": "champion"}, headers=contractor.headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "stage"


async def test_interactions_are_logged_newest_first(
    client: httpx.AsyncClient, session: AsyncSession, pair: tuple[Account, Account]
) -> None:
    homeowner, contractor = pair
    _, customer_id = await _award(client, session, homeowner, contractor)
    url = f"/api/v1/crm/customers/{customer_id}/interactions"
    for i in range(3):
        made = await client.post(url, json={"kind": "call", "note": f"Call {i}"}, headers=contractor.headers)
        assert made.status_code == 201
        assert made.json()["direction"] == "outbound"
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(url, params=params, headers=contractor.headers)).json()
        seen += [i["note"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["Call 2", "Call 1", "Call 0"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "reply", "direction": "outbound", "note": "Hi"}, "direction"),
        ({"kind": "follow_up", "note": "Hi"}, "kind"),
        ({"kind": "call", "note": "   "}, "note"),
        ({"kind": "call", "note": "x" * 2_001}, "note"),
    ],
)
async def test_bad_interactions_name_the_field(
    client: httpx.AsyncClient,
    session: AsyncSession,
    pair: tuple[Account, Account],
    body: dict[str, Any],
    field: str,
) -> None:
    homeowner, contractor = pair
    _, customer_id = await _award(client, session, homeowner, contractor)
    response = await client.post(
        f"/api/v1/crm/customers/{customer_id}/interactions", json=body, headers=contractor.headers
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_customers_gone_quiet_become_inactive(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    database: Database,
    pair: tuple[Account, Account],
) -> None:
    homeowner, contractor = pair
    quiet_homeowner = await make_user(session, settings, "homeowner")
    _, busy = await _award(client, session, homeowner, contractor)
    _, quiet = await _award(client, session, quiet_homeowner, contractor)
    await session.execute(
        update(Customer).values(last_interaction_at=func.now() - service.INACTIVE_AFTER - timedelta(days=1))
    )
    await session.execute(update(Customer).where(Customer.id == quiet).values(stage="completed"))
    await tasks.enqueue(session, crm_tasks.MARK_INACTIVE, {})
    await drain(database, settings, recording_integrations(settings)[0], registry=CRM_ONLY)
    assert (await _customer(session, quiet)).stage == "inactive"
    assert (await _customer(session, busy)).stage == "active"  # work in progress never goes idle
