"""Messages per bidder, notifications and the bell, through the pages."""

from __future__ import annotations

import re
from collections.abc import Callable

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
