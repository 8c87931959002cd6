"""Hostile input through the pages."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.web.conftest import JOB, Browser


async def test_a_script_in_a_job_title_renders_as_text(browser_factory: Callable[[], Browser]) -> None:
    home, pro = browser_factory(), browser_factory()
    await home.sign_up()
    title = "<script>alert('x')</script> Fix"
    job_id = await home.post_job(
        title=title, description=JOB["description"] + ' "><img src=x onerror=alert(1)>'
    )
    await pro.sign_up("contractor")
    for who, url in (
        (home, f"/jobs/{job_id}"),
        (home, "/dashboard"),
        (pro, "/board"),
        (pro, f"/jobs/{job_id}"),
    ):
        html = (await who.get(url)).text
        assert "<script>alert" not in html, url
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Fix" in html, url
    page = (await pro.get(f"/jobs/{job_id}")).text
    assert "<img src=x" not in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page


async def test_another_users_job_page_shows_no_private_data(browser_factory: Callable[[], Browser]) -> None:
    home, pro, neighbour, stranger = (browser_factory() for _ in range(4))
    owner_email = await home.sign_up()
    job_id = await home.post_job()
    await pro.sign_up("contractor")
    secret = "My price is firm, call me on 555-0101."
    await pro.bid(job_id, secret)
    owner_view = (await home.get(f"/jobs/{job_id}")).text
    assert secret in owner_view
    await neighbour.sign_up()
    for viewer in (neighbour, stranger):
        page = await viewer.get(f"/jobs/{job_id}")
        assert page.status_code == 200
        assert JOB["title"] in page.text
        assert secret not in page.text
        assert owner_email not in page.text
        assert "Pat Homeowner" not in page.text
        assert "Accept and pay" not in page.text
        assert 'id="bids"' not in page.text
        fragment = await viewer.get(f"/jobs/{job_id}/bids")
        assert secret not in fragment.text
    assert (await neighbour.get(f"/jobs/{job_id}/bids")).status_code == 403
    bid_id = re.search(r"/bids/(\d+)/pay", owner_view)
    assert bid_id is not None
    refused = await neighbour.get(f"/bids/{bid_id[1]}/pay")
    assert refused.status_code == 403
    assert secret not in refused.text
    taken = await neighbour.post(f"/bids/{bid_id[1]}/pay", {"card": "4242 4242 4242 4242"})
    assert taken.status_code == 403
    assert "Accept and pay" in (await home.get(f"/jobs/{job_id}")).text, "still open, nothing charged"


async def test_an_oversized_or_odd_form_is_a_clear_refusal(browser_factory: Callable[[], Browser]) -> None:
    home = browser_factory()
    await home.sign_up()
    huge = await home.post("/jobs/new", {**JOB, "title": "x" * 5_000})
    assert huge.status_code == 422
    assert 'id="e-title">Too long: at most 120 characters' in huge.text
    nul = await home.post("/jobs/new", {**JOB, "title": "Fix the\x00 sink"})
    assert nul.status_code == 422
    assert 'id="e-title">Remove the invisible control characters' in nul.text
    odd_filter = await home.get("/counties/36061?trade=juggling")
    assert odd_filter.status_code == 200
    assert 'id="e-trade">Choose one of the options' in odd_filter.text
    bad_cursor = await home.get("/counties/36061?cursor=garbage")
    assert bad_cursor.status_code == 422
    assert "Malformed cursor" in bad_cursor.text
