"""Notifications: the in-app list, read markers, and delivery by e-mail and SMS."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.models import User
from ftw.accounts.service import unsubscribe_link
from ftw.config import Settings
from ftw.core import switches
from ftw.core.db import Database
from ftw.core.pagination import encode
from ftw.core.switches import Name
from ftw.integrations.context import TaskContext
from ftw.messaging import tasks as messaging_tasks
from ftw.messaging.models import Delivery, Notification
from ftw.messaging.notifications import notify, render, sms_text
from ftw.worker import Registry, RetryPolicy, drain
from tests.conftest import Account
from tests.support.market import make_user, recording_integrations

DELIVER_ONLY = Registry(messaging_tasks.TASKS)


async def _notifications(session: AsyncSession, user: Account, count: int) -> list[Notification]:
    made = []
    for i in range(count):
        made.append(
            await notify(
                session, user_id=user.id, kind="bid.new", payload={"job_id": i, "amount_cents": 9_950}
            )
        )
    return made


async def test_the_list_is_newest_first_and_pages_by_cursor(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(session, settings)
    made = await _notifications(session, user, 5)
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/v1/notifications", params=params, headers=user.headers)).json()
        assert page["unread"] == 5
        seen += [n["id"] for n in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [n.id for n in reversed(made)]


async def test_the_unread_count_stands_on_an_empty_page(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user, newcomer = await make_user(session, settings), await make_user(session, settings)
    made = await _notifications(session, user, 3)
    await client.post(f"/api/v1/notifications/{made[1].id}/read", headers=user.headers)
    past_the_end = {"cursor": encode(made[0].id)}
    beyond = (await client.get("/api/v1/notifications", params=past_the_end, headers=user.headers)).json()
    assert beyond == {"items": [], "next_cursor": None, "unread": 2}
    none = (await client.get("/api/v1/notifications", headers=newcomer.headers)).json()
    assert none == {"items": [], "next_cursor": None, "unread": 0}
    await client.post("/api/v1/notifications/read-all", headers=user.headers)
    unread_only = {"unread_only": True}
    read = (await client.get("/api/v1/notifications", params=unread_only, headers=user.headers)).json()
    assert read == {"items": [], "next_cursor": None, "unread": 0}


async def test_reading_one_and_reading_all(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(session, settings)
    made = await _notifications(session, user, 3)
    one = await client.post(f"/api/v1/notifications/{made[0].id}/read", headers=user.headers)
    assert one.status_code == 200
    assert one.json()["read_at"] is not None
    unread = (
        await client.get("/api/v1/notifications", params={"unread_only": True}, headers=user.headers)
    ).json()
    assert [n["id"] for n in unread["items"]] == [made[2].id, made[1].id]
    assert unread["unread"] == 2
    everything = await client.post("/api/v1/notifications/read-all", headers=user.headers)
    assert everything.json() == {"marked": 2}
    assert (await client.get("/api/v1/notifications", headers=user.headers)).json()["unread"] == 0
    again = await client.post(f"/api/v1/notifications/{made[0].id}/read", headers=user.headers)
    assert again.json()["read_at"] == one.json()["read_at"]  # the first reading stands


async def test_nobody_reads_anothers_notifications(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner, other = await make_user(session, settings), await make_user(session, settings)
    (mine,) = await _notifications(session, owner, 1)
    assert (await client.get("/api/v1/notifications", headers=other.headers)).json()["items"] == []
    assert (
        await client.post(f"/api/v1/notifications/{mine.id}/read", headers=other.headers)
    ).status_code == 404
    assert (await client.post(f"/api/v1/notifications/{mine.id}/read")).status_code == 401
    assert (await client.get("/api/v1/notifications")).status_code == 401
    assert (await client.post("/api/v1/notifications/read-all", headers=other.headers)).json() == {
        "marked": 0
    }


def test_each_kind_renders_a_short_text() -> None:
    assert render("bid.new", {"job_id": 7, "amount_cents": 12_345}) == (
        "New bid on your job",
        "A contractor bid $123.45 on your job #7.",
    )
    assert render("payout.paid", {"speed": "instant", "amount_cents": 5_000})[1] == (
        "Your instant payout of $50.00 is on its way."
    )
    assert render("something.new", {}) == (
        "FairTradeWorker update",
        "You have a new notification in FairTradeWorker.",
    )
    assert render("message.new", {"preview": "{job_title} stays literal"})[1] == ": {job_title} stays literal"
    long = sms_text("Subject", "x" * 500)
    assert len(long) == 160
    assert long.endswith("…")


async def test_delivery_sends_email_and_sms_once_with_the_provider_reference(
    session: AsyncSession, settings: Settings, database: Database
) -> None:
    user = await make_user(session, settings, phone="+12125550100")
    notification = await notify(
        session, user_id=user.id, kind="bid.new", payload={"job_id": 3, "amount_cents": 100}
    )
    integrations, sms, email = recording_integrations(settings)

    assert await drain(database, settings, integrations, registry=DELIVER_ONLY) == 2
    link = unsubscribe_link(settings, user.id)
    assert email.sent == [
        {
            "to": user.email,
            "subject": "New bid on your job",
            "body": f"A contractor bid $1.00 on your job #3.\n\nStop these e-mails with one click: {link}",
            "headers": {
                "List-Unsubscribe": f"<{link}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        }
    ]
    assert sms.sent == [
        {"to": "+12125550100", "body": "New bid on your job: A contractor bid $1.00 on your job #3."}
    ]
    deliveries = {
        d.channel: d
        for d in await session.scalars(
            select(Delivery)
            .where(Delivery.notification_id == notification.id)
            .execution_options(populate_existing=True)
        )
    }
    assert {c: (d.status, d.provider_ref, d.attempts) for c, d in deliveries.items()} == {
        "email": ("sent", "ref-1", 1),
        "sms": ("sent", "ref-1", 1),
    }
    assert all(d.sent_at is not None for d in deliveries.values())


async def test_delivering_the_same_notification_twice_sends_once(
    session: AsyncSession, settings: Settings, database: Database
) -> None:
    user = await make_user(session, settings)
    notification = await notify(session, user_id=user.id, kind="bid.new", payload={"job_id": 1})
    integrations, _, email = recording_integrations(settings)
    context = TaskContext(database, settings, integrations)
    payload = {"notification_id": notification.id, "channel": "email"}
    await messaging_tasks.deliver(context, payload)
    await messaging_tasks.deliver(context, payload)  # a retried or duplicated task
    await drain(database, settings, integrations, registry=DELIVER_ONLY)  # and the queued one
    assert len(email.sent) == 1


async def test_a_refused_delivery_is_retried_with_backoff_then_marked_failed(
    session: AsyncSession, settings: Settings, database: Database
) -> None:
    user = await make_user(session, settings)
    notification = await notify(session, user_id=user.id, kind="bid.new", payload={"job_id": 1})
    integrations, _, email = recording_integrations(settings)
    email.down = True

    # The default policy: the retry waits (here, for longer than the test runs).
    assert await drain(database, settings, integrations, registry=DELIVER_ONLY) == 1
    queued = (
        await session.execute(
            text(
                "SELECT status, attempts, execute_after - now() AS wait FROM pgqueuer "
                "WHERE entrypoint = 'notifications.deliver'"
            )
        )
    ).one()
    assert (queued.status, queued.attempts) == ("queued", 1)
    assert timedelta(seconds=55) < queued.wait <= RetryPolicy().first_delay
    delivery = await session.scalar(
        select(Delivery)
        .where(Delivery.notification_id == notification.id)
        .execution_options(populate_existing=True)
    )
    assert delivery is not None
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, "provider unreachable")

    # Time passes: the following attempts fail too, until the delivery gives up.
    impatient = RetryPolicy(first_delay=timedelta(0))
    await session.execute(
        text("UPDATE pgqueuer SET execute_after = now() WHERE entrypoint = 'notifications.deliver'")
    )
    ran = await drain(database, settings, integrations, registry=DELIVER_ONLY, policy=impatient)
    assert ran == messaging_tasks.DELIVERY_ATTEMPTS - 1
    assert email.refused == messaging_tasks.DELIVERY_ATTEMPTS
    await session.refresh(delivery)
    assert (delivery.status, delivery.attempts) == ("failed", messaging_tasks.DELIVERY_ATTEMPTS)
    left = await session.scalar(
        text("SELECT count(*) FROM pgqueuer WHERE entrypoint = 'notifications.deliver'")
    )
    assert left == 0  # the task itself succeeded: the failure is recorded on the delivery
    email.down = False
    await messaging_tasks.deliver(
        TaskContext(database, settings, integrations),
        {"notification_id": notification.id, "channel": "email"},
    )
    assert email.sent == []  # a failed delivery is not resent by a stray task


async def test_an_sms_delivery_without_a_phone_number_fails_without_retrying(
    session: AsyncSession, settings: Settings, database: Database
) -> None:
    user = await make_user(session, settings, phone="+12125550100")
    notification = await notify(session, user_id=user.id, kind="bid.new", payload={"job_id": 1})
    await session.execute(text("UPDATE users SET phone = NULL WHERE id = :id"), {"id": user.id})
    integrations, sms, _ = recording_integrations(settings)
    await drain(database, settings, integrations, registry=DELIVER_ONLY)
    delivery = await session.scalar(
        select(Delivery)
        .where(Delivery.notification_id == notification.id, Delivery.channel == "sms")
        .execution_options(populate_existing=True)
    )
    assert delivery is not None
    assert (delivery.status, delivery.last_error) == ("failed", "The user has no phone number")
    assert sms.sent == []


async def test_two_workers_delivering_the_same_notification_send_it_once(
    database_url: str, settings: Settings
) -> None:
    """Committed rows and two connections: the second worker waits on the row lock, then skips."""
    db = Database.connect(database_url, settings, pool_size=2)
    integrations, _, email = recording_integrations(settings)
    email.pause = 0.3
    async with db.session() as session:
        user = await make_user(session, settings)
        notification = await notify(session, user_id=user.id, kind="bid.new", payload={"job_id": 1})
    try:
        payload = {"notification_id": notification.id, "channel": "email"}
        context = TaskContext(db, settings, integrations)
        await asyncio.gather(
            messaging_tasks.deliver(context, payload), messaging_tasks.deliver(context, payload)
        )
        assert len(email.sent) == 1
    finally:
        async with db.session() as session:
            await session.execute(delete(Delivery).where(Delivery.notification_id == notification.id))
            await session.execute(delete(Notification).where(Notification.id == notification.id))
            await session.execute(
                text(
                    "WITH gone AS (DELETE FROM pgqueuer WHERE dedupe_key LIKE :key RETURNING id) "
                    "DELETE FROM pgqueuer_log WHERE job_id IN (SELECT id FROM gone)"
                ),
                {"key": f"deliver:{notification.id}:%"},
            )
            await session.execute(delete(User).where(User.id == user.id))
        await db.dispose()


async def test_a_channel_switched_off_sends_nothing_and_says_why(
    session: AsyncSession, settings: Settings, database: Database
) -> None:
    user = await make_user(session, settings, phone="+12125550100")
    notification = await notify(session, user_id=user.id, kind="bid.new", payload={"job_id": 1})
    await switches.change(session, name=Name.SMS, on=False, message=None, actor_id=None, via="test")
    integrations, sms, email = recording_integrations(settings)
    context = TaskContext(database, settings, integrations)
    for channel in ("sms", "email"):
        await messaging_tasks.deliver(context, {"notification_id": notification.id, "channel": channel})
    assert sms.sent == []
    assert len(email.sent) == 1
    held = await session.scalar(
        select(Delivery)
        .where(Delivery.notification_id == notification.id, Delivery.channel == "sms")
        .execution_options(populate_existing=True)
    )
    assert held is not None
    assert (held.status, held.last_error) == ("failed", "not sent: sms switched off by an admin")
