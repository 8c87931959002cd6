"""Job threads: who may read and write them, read markers and unread counts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.config import Settings
from ftw.core import migrations
from ftw.messaging.models import PREVIEW_CHARS, Delivery, Message, Notification, Thread
from tests.conftest import Account
from tests.support.market import headers_as, make_user, post_job, write_bid

Parties = tuple[Account, Account, Account, Account, dict[str, Any]]
"""The homeowner, a bidder, a withdrawn bidder, an outsider contractor, and the job."""

# What the thread list read before threads carried their last message (migration 0013).
LATERAL = text(
    "SELECT t.id, left(m.body, :chars) AS preview, m.sender_id FROM threads t"
    " JOIN LATERAL (SELECT body, sender_id FROM messages WHERE thread_id = t.id"
    "               ORDER BY id DESC LIMIT 1) m ON true ORDER BY t.id"
).bindparams(chars=PREVIEW_CHARS)
COPIED = text(
    "SELECT id, last_message_preview, last_sender_id FROM threads"
    " WHERE last_sender_id IS NOT NULL ORDER BY id"
)


@pytest.fixture
async def market(client: httpx.AsyncClient, session: AsyncSession, settings: Settings) -> Parties:
    """A homeowner's job with two bidders, and an outsider contractor."""
    homeowner = await make_user(session, settings, "homeowner")
    first, second, outsider = [await make_user(session, settings, "contractor") for _ in range(3)]
    job = await post_job(client, homeowner)
    await write_bid(session, job["id"], first)
    await write_bid(session, job["id"], second, status="withdrawn")  # any bid opens a thread
    return homeowner, first, second, outsider, job


async def _send(
    client: httpx.AsyncClient,
    account: Account,
    job_id: int,
    body: str = "Can you come on Tuesday?",
    **extra: Any,
) -> httpx.Response:
    return await client.post(
        f"/api/v1/jobs/{job_id}/messages", json={"body": body, **extra}, headers=account.headers
    )


async def test_a_bidder_and_the_homeowner_talk_in_one_thread(
    client: httpx.AsyncClient, session: AsyncSession, market: Parties
) -> None:
    homeowner, contractor, _, _, job = market
    first = await _send(client, contractor, job["id"], body="  Hello, I can start Monday.  ")
    assert first.status_code == 201, first.text
    assert first.json()["body"] == "Hello, I can start Monday."
    reply = await _send(client, homeowner, job["id"], body="Monday works.", contractor_id=contractor.id)
    assert reply.status_code == 201, reply.text
    assert reply.json()["thread_id"] == first.json()["thread_id"]

    as_contractor = await client.get(f"/api/v1/jobs/{job['id']}/messages", headers=contractor.headers)
    as_homeowner = await client.get(
        f"/api/v1/jobs/{job['id']}/messages",
        params={"contractor_id": contractor.id},
        headers=homeowner.headers,
    )
    assert as_contractor.status_code == as_homeowner.status_code == 200
    assert as_contractor.json() == as_homeowner.json()
    assert [m["body"] for m in as_contractor.json()["items"]] == [
        "Monday works.",
        "Hello, I can start Monday.",
    ]
    assert await session.scalar(select(func.count()).select_from(Thread)) == 1


async def test_sending_notifies_the_other_participant_and_queues_delivery(
    client: httpx.AsyncClient, session: AsyncSession, market: Parties
) -> None:
    homeowner, contractor, _, _, job = market
    sent = (await _send(client, contractor, job["id"])).json()
    notification = await session.scalar(select(Notification).where(Notification.user_id == homeowner.id))
    assert notification is not None
    assert notification.kind == "message.new"
    assert notification.payload["thread_id"] == sent["thread_id"]
    assert notification.payload["job_title"] == job["title"]
    assert notification.payload["preview"] == "Can you come on Tuesday?"
    channels = await session.scalars(
        select(Delivery.channel).where(Delivery.notification_id == notification.id)
    )
    assert list(channels) == ["email"]  # no phone number: e-mail only
    queued = await session.scalar(
        text("SELECT count(*) FROM pgqueuer WHERE entrypoint = 'notifications.deliver' AND status = 'queued'")
    )
    assert queued == 1
    assert await session.scalar(select(func.count()).where(Notification.user_id == contractor.id)) == 0


async def test_the_thread_appears_with_the_first_message(client: httpx.AsyncClient, market: Parties) -> None:
    homeowner, contractor, _, _, job = market
    empty = await client.get(f"/api/v1/jobs/{job['id']}/messages", headers=contractor.headers)
    assert empty.json() == {"thread_id": None, "items": [], "next_cursor": None}
    assert (await client.get("/api/v1/threads", headers=homeowner.headers)).json()["items"] == []


async def test_the_homeowner_must_say_which_bidders_thread(
    client: httpx.AsyncClient, market: Parties
) -> None:
    homeowner, _, _, outsider, job = market
    missing = await _send(client, homeowner, job["id"])
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "contractor_id"
    not_a_bidder = await _send(client, homeowner, job["id"], contractor_id=outsider.id)
    assert not_a_bidder.status_code == 404
    assert not_a_bidder.json()["errors"][0]["field"] == "contractor_id"


async def test_a_withdrawn_bidder_keeps_its_thread(client: httpx.AsyncClient, market: Parties) -> None:
    homeowner, _, withdrawn, _, job = market
    assert (await _send(client, withdrawn, job["id"])).status_code == 201
    assert (await _send(client, homeowner, job["id"], contractor_id=withdrawn.id)).status_code == 201


async def test_outsiders_can_neither_read_nor_write(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, market: Parties
) -> None:
    _, contractor, _, outsider, job = market
    await _send(client, contractor, job["id"])
    other_homeowner = await make_user(session, settings, "homeowner")
    operator = await make_user(session, settings, "operator")
    url = f"/api/v1/jobs/{job['id']}/messages"
    for account in (outsider, other_homeowner, operator):
        read = await client.get(url, params={"contractor_id": contractor.id}, headers=account.headers)
        write = await _send(client, account, job["id"], contractor_id=contractor.id)
        assert read.status_code == write.status_code == 403, account.role
    assert (await client.get(url)).status_code == 401
    assert (await client.post(url, json={"body": "hi"})).status_code == 401
    assert (
        await client.get("/api/v1/jobs/999999999/messages", headers=contractor.headers)
    ).status_code == 404


async def test_a_contractor_sees_only_its_own_thread(client: httpx.AsyncClient, market: Parties) -> None:
    _, contractor, other, _, job = market
    await _send(client, other, job["id"], body="A message from the other bidder")
    peek = await client.get(
        f"/api/v1/jobs/{job['id']}/messages", params={"contractor_id": other.id}, headers=contractor.headers
    )
    assert peek.status_code == 403
    assert peek.json()["errors"][0]["field"] == "contractor_id"
    own = await client.get(f"/api/v1/jobs/{job['id']}/messages", headers=contractor.headers)
    assert own.json()["items"] == []


async def test_admins_read_threads_but_do_not_write(
    client: httpx.AsyncClient, settings: Settings, market: Parties
) -> None:
    _, contractor, _, _, job = market
    await _send(client, contractor, job["id"])
    admin = headers_as(settings, contractor.id + 1_000_000, "admin")
    url = f"/api/v1/jobs/{job['id']}/messages"
    read = await client.get(url, params={"contractor_id": contractor.id}, headers=admin)
    assert read.status_code == 200
    assert len(read.json()["items"]) == 1
    write = await client.post(url, json={"body": "Admin here", "contractor_id": contractor.id}, headers=admin)
    assert write.status_code == 403


@pytest.mark.parametrize("body", ["", "   ", "x" * 5_001])
async def test_a_message_body_is_1_to_5000_characters(
    client: httpx.AsyncClient, session: AsyncSession, market: Parties, body: str
) -> None:
    _, contractor, _, _, job = market
    response = await _send(client, contractor, job["id"], body=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"
    assert await session.scalar(select(func.count()).select_from(Message)) == 0


async def test_a_5000_character_message_is_accepted(client: httpx.AsyncClient, market: Parties) -> None:
    _, contractor, _, _, job = market
    assert (await _send(client, contractor, job["id"], body="x" * 5_000)).status_code == 201


async def test_messages_page_backwards_by_cursor(client: httpx.AsyncClient, market: Parties) -> None:
    _, contractor, _, _, job = market
    for i in range(5):
        await _send(client, contractor, job["id"], body=f"message {i}")
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (
            await client.get(f"/api/v1/jobs/{job['id']}/messages", params=params, headers=contractor.headers)
        ).json()
        seen += [m["body"] for m in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"message {i}" for i in reversed(range(5))]
    bad = await client.get(
        f"/api/v1/jobs/{job['id']}/messages", params={"cursor": "garbage!"}, headers=contractor.headers
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "cursor"


async def test_threads_list_recent_first_with_unread_counts_and_preview(
    client: httpx.AsyncClient, session: AsyncSession, market: Parties
) -> None:
    homeowner, contractor, other, _, job = market
    second_job = await post_job(client, homeowner, title="Broken garage door opener")
    await write_bid(session, second_job["id"], contractor)
    await _send(client, contractor, job["id"], body="First job, first message")
    await _send(client, contractor, job["id"], body="First job, second message")
    await _send(client, other, job["id"], body="From the other bidder")
    await _send(client, contractor, second_job["id"], body="x" * 300)
    # Back-date threads so the order does not depend on one transaction's now().
    for age, (job_id, contractor_id) in enumerate(
        [(second_job["id"], contractor.id), (job["id"], other.id), (job["id"], contractor.id)]
    ):
        await session.execute(
            text(
                "UPDATE threads SET last_message_at = now() - make_interval(mins => :age) "
                "WHERE job_id = :job AND contractor_id = :contractor"
            ),
            {"age": age, "job": job_id, "contractor": contractor_id},
        )

    page = (await client.get("/api/v1/threads", headers=homeowner.headers)).json()
    summary = [(t["job_id"], t["contractor_id"], t["unread"]) for t in page["items"]]
    assert summary == [
        (second_job["id"], contractor.id, 1),
        (job["id"], other.id, 1),
        (job["id"], contractor.id, 2),
    ]
    newest = page["items"][0]
    assert newest["job_title"] == "Broken garage door opener"
    assert newest["last_message_preview"] == "x" * 140
    assert newest["last_sender_id"] == contractor.id

    mine = (await client.get("/api/v1/threads", headers=contractor.headers)).json()["items"]
    assert {t["job_id"] for t in mine} == {job["id"], second_job["id"]}
    assert all(t["unread"] == 0 for t in mine)  # its own messages are never unread

    first, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        got = (await client.get("/api/v1/threads", params=params, headers=homeowner.headers)).json()
        first += [(t["job_id"], t["contractor_id"]) for t in got["items"]]
        cursor = got["next_cursor"]
        if not cursor:
            break
    assert first == [(j, c) for j, c, _ in summary]


async def test_marking_read_moves_the_marker_and_the_unread_counts(
    client: httpx.AsyncClient, market: Parties
) -> None:
    homeowner, contractor, other, _, job = market
    sent = [(await _send(client, contractor, job["id"], body=f"message {i}")).json() for i in range(3)]
    await _send(client, other, job["id"], body="Another thread")
    thread_id = sent[0]["thread_id"]
    unread = await client.get("/api/v1/threads/unread", headers=homeowner.headers)
    assert unread.json() == {"unread": 4}

    partly = await client.post(
        f"/api/v1/threads/{thread_id}/read", json={"message_id": sent[1]["id"]}, headers=homeowner.headers
    )
    assert partly.status_code == 200
    assert partly.json() == {"thread_id": thread_id, "last_read_message_id": sent[1]["id"], "unread": 1}
    fully = await client.post(f"/api/v1/threads/{thread_id}/read", headers=homeowner.headers)
    assert fully.json()["unread"] == 0
    assert fully.json()["last_read_message_id"] == sent[2]["id"]
    back = await client.post(
        f"/api/v1/threads/{thread_id}/read", json={"message_id": sent[0]["id"]}, headers=homeowner.headers
    )
    assert back.json()["last_read_message_id"] == sent[2]["id"]  # the marker never moves back
    assert (await client.get("/api/v1/threads/unread", headers=homeowner.headers)).json() == {"unread": 1}


async def test_replying_marks_the_thread_read_for_the_sender(
    client: httpx.AsyncClient, market: Parties
) -> None:
    homeowner, contractor, _, _, job = market
    await _send(client, contractor, job["id"])
    await _send(client, homeowner, job["id"], body="Sure, Tuesday at nine.", contractor_id=contractor.id)
    assert (await client.get("/api/v1/threads/unread", headers=homeowner.headers)).json() == {"unread": 0}
    assert (await client.get("/api/v1/threads/unread", headers=contractor.headers)).json() == {"unread": 1}


async def test_only_participants_mark_a_thread_read(client: httpx.AsyncClient, market: Parties) -> None:
    homeowner, contractor, other, _, job = market
    mine = (await _send(client, contractor, job["id"])).json()
    theirs = (await _send(client, other, job["id"])).json()
    url = f"/api/v1/threads/{mine['thread_id']}/read"
    assert (await client.post(url, headers=other.headers)).status_code == 403
    assert (await client.post(url)).status_code == 401
    assert (await client.post("/api/v1/threads/999999999/read", headers=homeowner.headers)).status_code == 404
    foreign = await client.post(url, json={"message_id": theirs["id"]}, headers=homeowner.headers)
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["field"] == "message_id"


async def test_the_thread_list_shows_the_newest_message_and_its_sender(
    client: httpx.AsyncClient, session: AsyncSession, market: Parties
) -> None:
    homeowner, contractor, _, _, job = market
    long = "Details: " + "the valve drips. " * 20
    exchange = [
        (contractor, "Can I come on Tuesday?"),
        (homeowner, "Tuesday works."),
        (homeowner, long),
        (contractor, "See you then."),
        (homeowner, long + "And the tap."),
    ]
    for sender, body in exchange:
        extra = {"contractor_id": contractor.id} if sender is homeowner else {}
        assert (await _send(client, sender, job["id"], body=body, **extra)).status_code == 201
        for viewer in (homeowner, contractor):
            (thread,) = (await client.get("/api/v1/threads", headers=viewer.headers)).json()["items"]
            assert (thread["last_message_preview"], thread["last_sender_id"]) == (
                body[:PREVIEW_CHARS],
                sender.id,
            )
    assert len(long) > PREVIEW_CHARS
    assert (await session.execute(COPIED)).all() == (await session.execute(LATERAL)).all()


async def test_the_migration_fills_threads_as_the_lateral_lookup_did(
    client: httpx.AsyncClient, session: AsyncSession, market: Parties
) -> None:
    homeowner, contractor, other, _, job = market
    for i in range(3):
        await _send(client, contractor, job["id"], body=f"message {i} " + "x" * 150 * i)
        await _send(client, homeowner, job["id"], body=f"reply {i}", contractor_id=contractor.id)
    await _send(client, other, job["id"], body="Only message")
    listed = (await client.get("/api/v1/threads", headers=homeowner.headers)).json()
    await session.execute(text("UPDATE threads SET last_message_preview = NULL, last_sender_id = NULL"))

    scripts = ScriptDirectory.from_config(migrations.alembic_config(""))
    revision = scripts.get_revision("0013")
    assert revision is not None
    await session.execute(revision.module.BACKFILL)
    lateral = (await session.execute(LATERAL)).all()
    assert len(lateral) == 2
    assert (await session.execute(COPIED)).all() == lateral
    assert (await client.get("/api/v1/threads", headers=homeowner.headers)).json() == listed
