"""Messages per bidder, notifications and the bell, through the pages."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.models import User
from ftw.messaging.models import Message, Thread
from ftw.messaging.notifications import notify
from tests.web.conftest import Browser


async def _bid(home: Browser, pro: Browser) -> tuple[int, int]:
    """A job of ``home`` with a bid of ``pro``; the job and the contractor's ids."""
    job_id = await home.post_job()
    await pro.bid(job_id)
    owner_view = await home.get(f"/jobs/{job_id}")
    contractor = re.search(r"/messages\?contractor=(\d+)", owner_view.text)
    assert contractor is not None, "each bid links to its thread"
    return job_id, int(contractor[1])


async def test_a_homeowner_and_a_bidder_exchange_messages(browser_factory: Callable[[], Browser]) -> None:
    home, pro, rival = browser_factory(), browser_factory(), browser_factory()
    await home.sign_up()
    await pro.sign_up("contractor")
    await rival.sign_up("contractor")
    job_id, contractor_id = await _bid(home, pro)

    empty = await pro.post(f"/jobs/{job_id}/messages", {"body": "   "})
    assert empty.status_code == 422
    assert 'id="e-body">Fill this in' in empty.text
    sent = await pro.post(f"/jobs/{job_id}/messages", {"body": "Is the shut-off valve under the sink?"})
    assert sent.status_code == 303
    assert 'class="badge">2<' in (await home.get("/bell")).text, "the bid and the message, unread"
    notes = await home.get("/notifications")
    assert "Pat Contractor on “Leaking kitchen faucet”: Is the shut-off valve" in notes.text
    thread = await home.get(f"/jobs/{job_id}/messages?contractor={contractor_id}")
    assert "Is the shut-off valve under the sink?" in thread.text
    await home.post(
        f"/jobs/{job_id}/messages?contractor={contractor_id}", {"body": "Yes, it is <b>there</b>."}
    )
    mine = await pro.get(f"/jobs/{job_id}/messages", headers={"HX-Request": "true"})
    assert mine.text.lstrip().startswith('<section id="thread"')
    assert "Yes, it is &lt;b&gt;there&lt;/b&gt;." in mine.text

    assert (await rival.get(f"/jobs/{job_id}/messages")).status_code == 403, "no bid, no thread"
    prying = await rival.get(f"/jobs/{job_id}/messages?contractor={contractor_id}")
    assert "shut-off valve" not in prying.text
    read = await home.post("/notifications/read")
    assert read.status_code == 303
    assert "badge" not in (await home.get("/bell")).text


async def test_the_event_stream_needs_a_session(browser: Browser) -> None:
    answer = await browser.get("/events")
    assert answer.status_code == 204, "EventSource stops on a 204 instead of retrying"
    assert (await browser.get("/notifications")).status_code == 303


async def test_older_notifications_are_a_link_away(browser: Browser, session: AsyncSession) -> None:
    email = await browser.sign_up()
    user = await session.scalar(select(User).where(User.email == email))
    assert user is not None
    for dollars in range(1, 36):  # 35: a page of 30 and five older
        bid = {"job_id": 1, "amount_cents": dollars * 100}
        await notify(session, user_id=user.id, kind="bid.new", payload=bid)

    first = await browser.get("/notifications")
    assert "New bid of $35 on your job" in first.text
    assert "New bid of $5 on your job" not in first.text
    older = re.search(r'href="([^"]+)">Older notifications<', first.text)
    assert older is not None, "the 30 newest, and a link to the rest"
    rest = await browser.get(html.unescape(older[1]))
    assert [f"${n} on" in rest.text for n in (5, 4, 3, 2, 1)] == [True] * 5
    assert "New bid of $6 on your job" not in rest.text
    assert "Older notifications" not in rest.text


async def test_a_long_thread_shows_its_latest_and_earlier_messages_a_link_away(
    browser_factory: Callable[[], Browser], session: AsyncSession
) -> None:
    home, pro = browser_factory(), browser_factory()
    await home.sign_up()
    await pro.sign_up("contractor")
    job_id, contractor_id = await _bid(home, pro)
    await pro.post(f"/jobs/{job_id}/messages", {"body": "Message 1"})
    thread = await session.scalar(select(Thread).where(Thread.job_id == job_id))
    assert thread is not None
    session.add_all(
        Message(thread_id=thread.id, sender_id=contractor_id, body=f"Message {n}") for n in range(2, 106)
    )
    await session.flush()

    latest = await home.get(f"/jobs/{job_id}/messages?contractor={contractor_id}")
    assert "Message 105<" in latest.text
    assert "Message 6<" in latest.text
    assert "Message 5<" not in latest.text
    earlier = re.search(r'href="([^"]+)">Earlier messages<', latest.text)
    assert earlier is not None, "the 100 latest, and a link to the ones before"
    before = await home.get(html.unescape(earlier[1]))
    assert [f"Message {n}<" in before.text for n in (1, 5, 6)] == [True, True, False]
    assert "Earlier messages" not in before.text
    assert "Latest messages" in before.text
    assert "hx-trigger" not in before.text.split('id="thread"')[1].split(">")[0], (
        "a live message would swap the earlier page for the latest"
    )
