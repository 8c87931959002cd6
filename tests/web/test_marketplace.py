"""The marketplace through its pages: post, find, bid, accept and pay, complete, review."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.jobs.models import JobPhoto
from tests.web.conftest import JOB, Browser


def _png() -> bytes:
    """A real 1x1 PNG: photos are decoded and written anew, so a broken one is refused."""
    out = io.BytesIO()
    Image.new("RGB", (1, 1), (40, 120, 200)).save(out, format="PNG")
    return out.getvalue()


PNG = _png()


async def test_the_whole_award_through_the_pages(browser_factory: Callable[[], Browser]) -> None:
    home, pro, rival = browser_factory(), browser_factory(), browser_factory()
    await home.sign_up()
    job_id = await home.post_job()
    posted = await home.get(f"/jobs/{job_id}?done=posted")
    assert "Your job is posted" in posted.text
    assert re.search(r'class="price">\$\d[\d,]* \u2013 \$\d[\d,]*<', posted.text), "the instant estimate"

    await pro.sign_up("contractor")
    board = await pro.get("/board")
    assert f'href="/jobs/{job_id}"' in board.text
    found = await pro.get("/board?q=faucet&trade=plumbing")
    assert f'href="/jobs/{job_id}"' in found.text
    elsewhere = await pro.get("/board?trade=roofing")
    assert f'href="/jobs/{job_id}"' not in elsewhere.text
    page = await pro.get(f"/jobs/{job_id}")
    band = re.search(r"Between (\$[\d,.]+) and (\$[\d,.]+) for this job", page.text)
    assert band is not None, "the bid form shows the allowed band"
    low = float(band[1].strip("$").replace(",", ""))
    bid = await pro.post(
        f"/jobs/{job_id}/bids", {"amount": f"{low + 40:.2f}", "message": "I can come tomorrow."}
    )
    assert bid.status_code == 303
    again = await pro.get(f"/jobs/{job_id}")
    assert "Your bid:" in again.text
    assert "Place a bid" not in again.text, "one live bid per contractor"
    mine = await pro.get("/bids")
    assert JOB["title"] in mine.text
    assert "pending" in mine.text

    await rival.sign_up("contractor")
    await rival.post(f"/jobs/{job_id}/bids", {"amount": f"{low:.2f}", "message": "Cheaper, and fast too."})
    rival_view = await rival.get(f"/jobs/{job_id}")
    assert "I can come tomorrow." not in rival_view.text, "bidding is blind"

    bids = await home.get(f"/jobs/{job_id}/bids?sort=price", headers={"HX-Request": "true"})
    assert bids.text.lstrip().startswith('<section id="bids"'), "a fragment, not a page"
    assert bids.text.index("Cheaper, and fast too.") < bids.text.index("I can come tomorrow.")
    assert "⚡ Lightning" in bids.text
    by_time = await home.get(f"/jobs/{job_id}?sort=time")
    assert by_time.text.index("Cheaper, and fast too.") < by_time.text.index("I can come tomorrow.")
    pay_link = re.findall(r'href="/bids/(\d+)/pay"', by_time.text)
    assert len(pay_link) == 2
    bid_id = pay_link[1]  # the first contractor's (newest first puts it second)

    needs = await home.get("/dashboard")
    assert "Needs you" in needs.text
    assert "2 bids to compare" in needs.text
    pay = await home.get(f"/bids/{bid_id}/pay")
    assert "Platform fee" in pay.text
    assert "$20" in pay.text
    declined = await home.post(f"/bids/{bid_id}/pay", {"card": "4000 0000 0000 0002"})
    assert declined.status_code == 402
    assert 'id="e-card">Your card was declined' in declined.text
    assert 'value="4000 0000 0000 0002"' in declined.text
    nonsense = await home.post(f"/bids/{bid_id}/pay", {"card": "12ab"})
    assert 'id="e-card">A card number is 13 to 19 digits' in nonsense.text
    paid = await home.post(f"/bids/{bid_id}/pay", {"card": "4242 4242 4242 4242"})
    assert paid.status_code == 303
    assert paid.headers["location"] == f"/jobs/{job_id}?done=paid"
    awarded = await home.get(paid.headers["location"])
    assert "Paid." in awarded.text
    assert ">awarded<" in awarded.text
    assert "Accept and pay" not in awarded.text

    assert '<span class="tag">rejected</span>' in (await rival.get("/bids")).text
    start = await pro.post(f"/jobs/{job_id}/start")
    assert start.status_code == 303
    assert "Mark complete when the work is done" in (await home.get("/dashboard")).text
    complete = await home.post(f"/jobs/{job_id}/complete")
    assert complete.status_code == 303
    done = await home.get(f"/jobs/{job_id}")
    assert "Review the work" in done.text
    short = await home.post(f"/jobs/{job_id}/review", {"rating": "5", "body": "Great"})
    assert short.status_code == 422
    assert 'id="e-body">Too short: at least 10 characters' in short.text
    assert "Great</textarea>" in short.text
    review = await home.post(f"/jobs/{job_id}/review", {"rating": "5", "body": "Quick, tidy and friendly."})
    assert review.status_code == 303
    contractor_id = re.search(r'href="/contractors/(\d+)"', done.text)
    assert contractor_id is not None
    profile = await home.get(f"/contractors/{contractor_id[1]}")
    assert "Quick, tidy and friendly." in profile.text
    assert "5.0 from 1 review" in profile.text


async def test_posting_a_job_shows_each_refusal_next_to_its_field(browser: Browser) -> None:
    await browser.sign_up()
    form = {**JOB, "title": "Fix", "description": "Too short", "zip": "ABCDE", "trade": "juggling"}
    answer = await browser.post("/jobs/new", form)
    assert answer.status_code == 422
    assert 'id="e-zip">Enter a 5-digit ZIP code' in answer.text
    assert 'id="e-trade">Choose one of the options' in answer.text
    assert 'value="Fix"' in answer.text
    assert "Too short</textarea>" in answer.text
    rules = await browser.post("/jobs/new", {**JOB, "title": "Fix"})
    assert 'id="e-title">Title must be at least 5 characters' in rules.text
    nowhere = await browser.post("/jobs/new", {**JOB, "zip": "00000"})
    assert 'id="e-zip">Unknown ZIP code' in nowhere.text


async def test_photos_are_checked_and_all_or_nothing(browser: Browser) -> None:
    await browser.sign_up()
    fake = await browser.post("/jobs/new", JOB, files=[("photos", ("notes.png", b"just text", "image/png"))])
    assert fake.status_code == 415
    assert 'id="e-photos">notes.png is not an image' in fake.text
    assert JOB["title"] not in (await browser.get("/dashboard")).text, (
        "the job was not kept without its photo"
    )
    good = await browser.post("/jobs/new", JOB, files=[("photos", ("sink.png", PNG, "image/png"))])
    assert good.status_code == 303
    page = await browser.get(good.headers["location"])
    # The thumbnail (WebP, its size set, lazy) links to the original.
    shown = re.search(
        r'<a href="/media/jobs/\d+/([0-9a-f]+)\.png"><img src="/media/jobs/\d+/([0-9a-f]+)-1\.webp"'
        r' alt="Photo 1 of the job" width="1" height="1" loading="lazy"',
        page.text,
    )
    assert shown is not None, page.text
    assert shown[1] == shown[2]


async def test_the_landing_search_finds_a_county_by_zip_or_name(browser: Browser) -> None:
    by_zip = await browser.get("/search?where=10001")
    assert by_zip.headers["location"] == "/counties/36061"
    by_name = await browser.get("/search?where=Kings, NY")
    assert by_name.headers["location"] == "/counties/36047"
    several = await browser.get("/search?where=Kings")
    assert "Which county?" in several.text
    unknown = await browser.get("/search?where=Atlantis")
    assert unknown.status_code == 422
    assert "No county is called Atlantis" in unknown.text
    county = await browser.get("/counties/36061")
    assert "Open jobs in New York County, NY" in county.text


async def test_role_pages_send_strangers_to_sign_in_and_refuse_other_roles(
    browser_factory: Callable[[], Browser],
) -> None:
    stranger, pro = browser_factory(), browser_factory()
    answer = await stranger.get("/jobs/new")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin?next=%2Fjobs%2Fnew"
    await pro.sign_up("contractor")
    home = browser_factory()
    await home.sign_up(zip="11201")
    form = await home.get("/jobs/new")
    assert form.status_code == 200
    assert 'name="zip" type="text" value="11201"' in form.text
    refused = await pro.get("/jobs/new")
    assert refused.status_code == 403
    assert "This page is for homeowners." in refused.text


async def test_a_contractor_withdraws_and_a_homeowner_cancels(browser_factory: Callable[[], Browser]) -> None:
    home, pro = browser_factory(), browser_factory()
    await home.sign_up()
    await pro.sign_up("contractor")
    job_id = await home.post_job()
    amount = await pro.lowest(job_id)
    await pro.bid(job_id)
    bid_id = re.search(r'action="/bids/(\d+)/withdraw"', (await pro.get(f"/jobs/{job_id}")).text)
    assert bid_id is not None
    withdrawn = await pro.post(f"/bids/{bid_id[1]}/withdraw")
    assert withdrawn.status_code == 303
    after = await pro.get(f"/jobs/{job_id}")
    assert '<span class="tag">withdrawn</span>' in after.text
    assert "Place a bid" in after.text, "a withdrawn bid is no longer live: the contractor may bid again"
    again = await pro.post(f"/bids/{bid_id[1]}/withdraw")
    assert again.status_code == 409
    assert "only a pending bid can change" in again.text

    cancelled = await home.post(f"/jobs/{job_id}/cancel")
    assert cancelled.status_code == 303
    closed = await pro.get(f"/jobs/{job_id}")
    assert '<span class="tag">cancelled</span>' in closed.text
    assert "Place a bid" not in closed.text
    late = await pro.post(f"/jobs/{job_id}/bids", {"amount": amount, "message": "Still keen."})
    assert late.status_code == 409
    assert "The job is cancelled; it takes no bids" in late.text
    assert f'href="/jobs/{job_id}"' not in (await pro.get("/board")).text


async def test_a_contractor_boosts_a_bid_with_the_card_form(browser_factory: Callable[[], Browser]) -> None:
    home, pro = browser_factory(), browser_factory()
    await home.sign_up()
    await pro.sign_up("contractor")
    job_id = await home.post_job()
    await pro.bid(job_id)
    mine = await pro.get(f"/jobs/{job_id}")
    assert "Boost for $5" in mine.text
    bid_id = re.search(r'action="/bids/(\d+)/boost"', mine.text)
    assert bid_id is not None
    declined = await pro.post(f"/bids/{bid_id[1]}/boost", {"card": "4000 0000 0000 0002"})
    assert declined.status_code == 402
    assert "Your card was declined; the bid is not boosted" in declined.text
    assert 'value="4000 0000 0000 0002"' in declined.text
    boosted = await pro.post(f"/bids/{bid_id[1]}/boost", {"card": "4242 4242 4242 4242"})
    assert boosted.status_code == 303
    after = await pro.get(boosted.headers["location"])
    assert "Boosted: your bid shows above the others" in after.text
    assert "Boost for $5" not in after.text
    owner = await home.get(f"/jobs/{job_id}")
    assert '<span class="tag boosted">Boosted</span>' in owner.text


async def test_a_photo_stored_before_thumbnails_still_shows(browser: Browser, session: AsyncSession) -> None:
    await browser.sign_up()
    job_id = await browser.post_job()
    old = JobPhoto(
        job_id=job_id, storage_key=f"jobs/{job_id}/old.png", content_type="image/png", size_bytes=9
    )
    session.add(old)
    await session.flush()
    page = await browser.get(f"/jobs/{job_id}")
    assert (
        f'<a href="/media/jobs/{job_id}/old.png"><img src="/media/jobs/{job_id}/old.png"'
        ' alt="Photo 1 of the job" width="160" height="120" loading="lazy"'
    ) in page.text
