"""Invoices, payouts and the CRM through the pages: a contractor invoices the job it won and
is paid out, the homeowner pays the invoice; each refusal is shown by its field."""

from __future__ import annotations

import re
from collections.abc import Callable

from ftw.web.page import dollars
from tests.web.conftest import Browser


async def _completed(browser_factory: Callable[[], Browser]) -> tuple[Browser, Browser, int, int]:
    """A job bid on, paid, started and completed through the pages: the homeowner, the
    contractor, the job, and the bid's amount in cents."""
    home, pro = browser_factory(), browser_factory()
    await home.sign_up()
    job_id = await home.post_job()
    await pro.sign_up("contractor")
    amount = await pro.lowest(job_id)
    assert (await pro.bid(job_id)).status_code == 303
    bid_id = re.findall(r'href="/bids/(\d+)/pay"', (await home.get(f"/jobs/{job_id}")).text)[0]
    assert (await home.post(f"/bids/{bid_id}/pay", {"card": "4242 4242 4242 4242"})).status_code == 303
    assert (await pro.post(f"/jobs/{job_id}/start")).status_code == 303
    assert (await home.post(f"/jobs/{job_id}/complete")).status_code == 303
    return home, pro, job_id, round(float(amount) * 100)


def _line(description: str, quantity: str, price: str, row: int = 1) -> dict[str, str]:
    return {f"line{row}_description": description, f"line{row}_quantity": quantity, f"line{row}_price": price}


async def test_a_contractor_invoices_a_job_and_the_homeowner_pays_it(
    browser_factory: Callable[[], Browser],
) -> None:
    home, pro, job_id, _ = await _completed(browser_factory)
    form = await pro.get(f"/invoices/new?job={job_id}")
    assert f'<option value="{job_id}" selected>' in form.text, "the job comes chosen from its page"
    assert "Invoice this job" in (await pro.get(f"/jobs/{job_id}")).text

    refused = await pro.post(
        "/invoices",
        {
            "job": str(job_id),
            **_line("Cartridge", "2", "12.50"),
            **_line("", "1", "abc", row=2),
            "tax": "8.255",
        },
    )
    assert refused.status_code == 422
    assert 'id="e-line2_price">Enter an amount in dollars' in refused.text
    assert 'id="e-tax">Enter a tax rate in percent' in refused.text
    assert 'value="Cartridge"' in refused.text, "the form keeps what was typed"
    empty = await pro.post("/invoices", {"job": str(job_id)})
    assert 'id="e-line1_description">Add at least one line' in empty.text

    lines = {**_line("Cartridge", "2", "12.50"), **_line("Labour", "1", "80", row=2)}
    created = await pro.post("/invoices", {"job": str(job_id), **lines, "tax": "10", "notes": "Thanks!"})
    assert created.status_code == 303, created.text
    invoice_url = created.headers["location"].split("?")[0]
    draft = await pro.get(created.headers["location"])
    assert "Draft saved" in draft.text
    assert "$115.50" in draft.text, "25 + 80 = 105, plus 10 % tax"
    assert (await home.get(invoice_url)).status_code == 404, "a draft is the contractor's alone"
    past = await pro.post(f"{invoice_url}/send", {"due": "2001-01-01"})
    assert past.status_code == 422
    assert 'id="e-due">The due date must be in the future' in past.text
    assert (await pro.post(f"{invoice_url}/send", {"due": ""})).status_code == 303

    listed = await home.get("/invoices")
    assert "INV-000001" in listed.text
    opened = await home.get(invoice_url)
    assert '<span class="tag">viewed</span>' in opened.text
    assert 'value="115.50"' in opened.text, "the amount comes filled in with the balance due"
    key = re.search(r'name="key" value="([\w-]+)"', opened.text)
    assert key is not None
    declined = await home.post(
        f"{invoice_url}/pay", {"amount": "50", "card": "4000 0000 0000 0002", "key": key[1]}
    )
    assert declined.status_code == 402
    assert 'id="e-card">Your card was declined' in declined.text
    assert 'value="50"' in declined.text
    too_much = await home.post(f"{invoice_url}/pay", {"amount": "500", "card": "4242424242424242"})
    assert too_much.status_code == 422
    assert 'id="e-amount">At most' in too_much.text

    key = re.search(r'name="key" value="([\w-]+)"', declined.text)
    assert key is not None
    part = {"amount": "50", "card": "4242 4242 4242 4242", "key": key[1]}
    assert (await home.post(f"{invoice_url}/pay", part)).status_code == 303
    assert (await home.post(f"{invoice_url}/pay", part)).status_code == 303  # pressed twice
    partly = await home.get(invoice_url)
    assert "partially paid" in partly.text
    assert "$65.50" in partly.text, "the same form sent twice paid once"
    rest = await home.post(f"{invoice_url}/pay", {"amount": "65.50", "card": "4242424242424242"})
    assert rest.status_code == 303
    paid = await pro.get(invoice_url)
    assert '<span class="tag">paid</span>' in paid.text

    pipeline = await pro.get("/crm")
    customer = re.search(r'href="/crm/customers/(\d+)"><strong>Pat Homeowner</strong>', pipeline.text)
    assert customer is not None
    completed = pipeline.text[
        pipeline.text.index('id="stage-completed"') : pipeline.text.index('id="stage-advocate"')
    ]
    assert "Pat Homeowner" in completed, "a completed job puts its customer in the completed column"
    assert "$115.50 paid" in completed, "lifetime value grows with paid invoices"
    assert "Day 1" in pipeline.text, "the follow-ups coming up"
    page = await pro.get(f"/crm/customers/{customer[1]}")
    assert "scheduled" in page.text
    blank = await pro.post(f"/crm/customers/{customer[1]}/interactions", {"kind": "reply", "note": " "})
    assert blank.status_code == 422
    assert 'id="e-note">Fill this in' in blank.text
    logged = await pro.post(
        f"/crm/customers/{customer[1]}/interactions", {"kind": "reply", "note": "Asked about the shower."}
    )
    assert logged.status_code == 303
    page = await pro.get(f"/crm/customers/{customer[1]}")
    assert "Asked about the shower." in page.text
    assert "paused" in page.text, "a reply pauses the follow-ups"
    moved = await pro.post(f"/crm/customers/{customer[1]}/stage", {"stage": "advocate"})
    assert moved.status_code == 303
    assert '<span class="tag">advocate</span>' in (await pro.get(f"/crm/customers/{customer[1]}")).text
    stranger = browser_factory()
    await stranger.sign_up("contractor")
    assert (await stranger.get(f"/crm/customers/{customer[1]}")).status_code == 404


async def test_a_contractor_is_paid_out_with_the_fee_shown_first(
    browser_factory: Callable[[], Browser],
) -> None:
    _, pro, _, earned = await _completed(browser_factory)
    money = await pro.get("/payouts")
    assert dollars(earned) in money.text
    assert "Set up payouts" in money.text
    opened = await pro.post("/payouts/account")
    assert "Your payout account is open" in opened.text
    assert 'action="/payouts/confirm"' in (await pro.get("/payouts")).text

    above = f"{earned / 100 + 1:.2f}"
    confirm = await pro.get(f"/payouts/confirm?amount={above}&speed=instant")
    key = re.search(r'name="key" value="([\w-]+)"', confirm.text)
    assert key is not None
    refused = await pro.post("/payouts", {"amount": above, "speed": "instant", "key": key[1]})
    assert refused.status_code == 409
    assert 'id="e-amount">Your available balance is' in refused.text
    assert f'value="{above}"' in refused.text
    assert 'value="instant" checked' in refused.text
    nonsense = await pro.get("/payouts/confirm?amount=-3&speed=instant")
    assert nonsense.status_code == 422
    assert 'id="e-amount">Enter an amount in dollars' in nonsense.text

    half = earned // 200 * 100  # whole dollars
    confirm = await pro.get(f"/payouts/confirm?amount={half // 100}&speed=instant")
    assert f'<td id="payout-fee">{dollars(half // 100)}</td>' in confirm.text, "instant costs 1 %"
    assert dollars(half - half // 100) in confirm.text, "what reaches the bank"
    assert "Free" in (await pro.get(f"/payouts/confirm?amount={half // 100}&speed=standard")).text
    key = re.search(r'name="key" value="([\w-]+)"', confirm.text)
    assert key is not None
    form = {"amount": str(half // 100), "speed": "instant", "key": key[1]}
    paid = await pro.post("/payouts", form)
    assert paid.status_code == 303
    assert (await pro.post("/payouts", form)).status_code == 303  # pressed twice
    history = await pro.get(paid.headers["location"])
    assert "Payout sent to your bank" in history.text
    rows = history.text[history.text.index('id="payouts"') :]
    assert rows.count("<td>instant</td>") == 1, "the same confirmation sent twice paid out once"
    assert dollars(earned - half) in history.text, "the balance left"


async def test_money_pages_are_for_their_roles(browser_factory: Callable[[], Browser]) -> None:
    home, pro = browser_factory(), browser_factory()
    await home.sign_up()
    await pro.sign_up("contractor")
    for path in ("/payouts", "/crm", "/invoices/new"):
        assert (await home.get(path)).status_code == 403, path
    assert (await browser_factory().get("/invoices")).status_code == 303  # to sign in
    assert "No invoices yet" in (await home.get("/invoices")).text
    assert "once your bid on it is accepted" in (await pro.get("/invoices/new")).text
    assert "None." in (await pro.get("/crm")).text
