"""Screenshots of the main pages at a phone's and a desktop's width, and what each page weighs.

Drives Debian's Chromium (Playwright, a development dependency) against a running server:
a homeowner and a contractor sign up through the pages, the homeowner posts a job and the
contractor bids, then every page is opened in a fresh browser (an empty cache) as the person
who sees it. A page's weight is what the browser received for its HTML, CSS and JavaScript,
compressed, as the network reported it; photos are not counted.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, Response, async_playwright

CHROMIUM = os.environ.get("FTW_CHROMIUM", "/usr/bin/chromium")
WIDTHS = {"phone": (390, 844), "desktop": (1280, 900)}
COUNTED = frozenset({"document", "stylesheet", "script", "fetch", "xhr"})
PASSWORD = "screenshots-" + "x" * 8
FAUCET = (
    "Replace a leaking bathroom faucet",
    "The bathroom sink faucet drips constantly and the cold handle is stiff. "
    "Standard single-hole sink, easy access from below.",
    "plumbing",
)
DOOR = (
    "Fix a sticking front door",
    "The front door sticks at the top corner and is hard to lock. It needs planing and the strike "
    "plate moved.",
    "carpentry",
)
HALLWAY = (
    "Paint the hallway and two doors",
    "A 20 ft hallway, walls and ceiling, plus two interior doors. Light grey, two coats.",
    "painting",
)


# name, path, who opens it
PAGES = [
    ("landing", "/", "anyone"),
    ("county", "/counties/36061", "anyone"),
    ("sign-up", "/signup", "anyone"),
    ("job-public", "/jobs/{job}", "anyone"),
    ("contractor-profile", "/contractors/{contractor}", "anyone"),
    ("dashboard", "/dashboard", "homeowner"),
    ("post-job", "/jobs/new", "homeowner"),
    ("job-with-bids", "/jobs/{job}", "homeowner"),
    ("pay", "/bids/{bid}/pay", "homeowner"),
    ("board", "/board", "contractor"),
    ("job-bid-form", "/jobs/{other}", "contractor"),
    ("my-bids", "/bids", "contractor"),
    ("messages", "/jobs/{job}/messages", "contractor"),
    ("territory", "/territory", "operator"),
    ("account", "/account", "homeowner"),
    ("forgot-password", "/forgot-password", "anyone"),
    ("invoices", "/invoices", "homeowner"),
    ("invoice-paid", "/invoices/{invoice}", "homeowner"),
    ("invoices-contractor", "/invoices", "contractor"),
    ("invoice-new", "/invoices/new?job={done}", "contractor"),
    ("payouts", "/payouts", "contractor"),
    ("payout-confirm", "/payouts/confirm?amount=25&speed=instant", "contractor"),
    ("crm", "/crm", "contractor"),
    ("customer", "/crm/customers/{customer}", "contractor"),
    ("admin", "/admin", "admin"),  # only with an admin's credentials (sign-up makes none)
]
NEW_YORK_CITY = ("36061", "36047", "36081", "36005", "36085")


@dataclass(frozen=True)
class Shot:
    name: str
    path: str
    who: str
    weight_bytes: int  # HTML + CSS + JS as received (compressed), an empty cache
    files: list[str]  # the screenshots, relative to the output folder


async def _sign_up(browser: Browser, base_url: str, role: str, name: str) -> dict[str, Any]:
    context = await browser.new_context(base_url=base_url)
    page = await context.new_page()
    await page.goto("/signup")
    await page.get_by_label(role).check()
    await page.get_by_label("Full name").fill(name)
    await page.get_by_label("E-mail").fill(f"{role}-{os.urandom(4).hex()}@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_label("ZIP code").fill("10001")
    await page.get_by_role("button", name="Create account").click()
    await page.get_by_label("Password").fill(PASSWORD)  # "check your e-mail", then sign in
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state()
    state: dict[str, Any] = dict(await context.storage_state())
    await context.close()
    return state


async def _sign_in(browser: Browser, base_url: str, email: str, password: str) -> dict[str, Any]:
    context = await browser.new_context(base_url=base_url)
    page = await context.new_page()
    await page.goto("/signin")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state()
    state: dict[str, Any] = dict(await context.storage_state())
    await context.close()
    return state


async def _as(browser: Browser, base_url: str, state: dict[str, Any] | None) -> Page:
    context = await browser.new_context(base_url=base_url, storage_state=state)  # type: ignore[arg-type]
    return await context.new_page()


async def _post(browser: Browser, base_url: str, person: dict[str, Any], job: tuple[str, str, str]) -> int:
    title, description, trade = job
    page = await _as(browser, base_url, person)
    await page.goto("/jobs/new")
    await page.get_by_label("What needs doing?").fill(title)
    await page.get_by_label("Describe the work").fill(description)
    await page.get_by_label("Trade").select_option(trade)
    await page.get_by_role("button", name="Post and see the estimate").click()
    await page.wait_for_url(re.compile(r"/jobs/\d+"))
    job_id = int(re.search(r"/jobs/(\d+)", page.url)[1])  # type: ignore[index]
    await page.context.close()
    return job_id


async def _bid(page: Page, job_id: int) -> None:
    await page.goto(f"/jobs/{job_id}")
    hint = await page.locator("#h-amount").inner_text()
    low = float(re.search(r"\$([\d,.]+)", hint)[1].replace(",", ""))  # type: ignore[index]
    await page.get_by_label("Your price in dollars").fill(f"{low + 60:.0f}")
    await page.get_by_label("Message to the homeowner").fill("I can come Thursday morning; parts included.")
    await page.get_by_role("button", name="Place bid").click()
    await page.wait_for_load_state()


async def _click(page: Page, name: str | re.Pattern[str], role: str = "button") -> None:
    await page.get_by_role(role, name=name).click()  # type: ignore[arg-type]
    await page.wait_for_load_state()


async def _invoiced(
    browser: Browser, base_url: str, home: dict[str, Any], pro: dict[str, Any]
) -> dict[str, int]:
    """A third job taken to the end: paid, done, invoiced and the invoice paid; the payout
    account opened. The ids of the job, the invoice and the contractor's customer."""
    job_id = await _post(browser, base_url, home, DOOR)
    worker = await _as(browser, base_url, pro)
    owner = await _as(browser, base_url, home)
    await _bid(worker, job_id)
    await owner.goto(f"/jobs/{job_id}")
    await _click(owner, "Accept and pay", role="link")
    await owner.get_by_label("Card number").fill("4242 4242 4242 4242")
    await _click(owner, re.compile(r"^Pay \$"))
    await worker.goto(f"/jobs/{job_id}")
    await _click(worker, "Start work")
    await owner.goto(f"/jobs/{job_id}")
    await _click(owner, "Mark complete")
    await worker.goto(f"/invoices/new?job={job_id}")
    await worker.locator("#f-line1_description").fill("Plane the door and move the strike plate")
    await worker.locator("#f-line1_price").fill("140")
    await worker.locator("#f-line2_description").fill("Brass strike plate")
    await worker.locator("#f-line2_price").fill("18.50")
    await _click(worker, "Save draft")
    invoice_id = int(re.search(r"/invoices/(\d+)", worker.url)[1])  # type: ignore[index]
    await _click(worker, "Send to the homeowner")
    await owner.goto(f"/invoices/{invoice_id}")
    await owner.get_by_label("Card number").fill("4242 4242 4242 4242")
    await _click(owner, "Pay")
    await worker.goto("/payouts")
    await _click(worker, "Set up payouts")
    await worker.goto("/crm")
    customer = await worker.locator("a[href^='/crm/customers/']").first.get_attribute("href") or ""
    await worker.context.close()
    await owner.context.close()
    return {"done": job_id, "invoice": invoice_id, "customer": int(customer.split("/")[3])}


async def _scene(
    browser: Browser, base_url: str, admin: tuple[str, str] | None
) -> tuple[dict[str, dict[str, Any] | None], dict[str, int]]:
    """Two people, three jobs: a bid on the first, the third done, invoiced and paid; an
    operator (approved and claiming a county when an admin's e-mail and password are given);
    the sessions by person, and the ids."""
    home = await _sign_up(browser, base_url, "homeowner", "Hana Homeowner")
    pro = await _sign_up(browser, base_url, "contractor", "Cole Contractor")
    other = await _post(browser, base_url, home, HALLWAY)
    job_id = await _post(browser, base_url, home, FAUCET)
    page = await _as(browser, base_url, pro)
    await _bid(page, job_id)
    await page.goto(f"/jobs/{job_id}/messages")
    await page.get_by_label("Your message").fill("Is the shut-off valve under the sink working?")
    await page.get_by_role("button", name="Send").click()
    await page.wait_for_load_state()
    await page.context.close()
    page = await _as(browser, base_url, home)
    await page.goto(f"/jobs/{job_id}")
    pay = await page.get_by_role("link", name="Accept and pay").get_attribute("href") or ""
    contractor = await page.locator("#bids a[href^='/contractors/']").first.get_attribute("href") or ""
    await page.goto(f"/jobs/{job_id}/messages?contractor={contractor.split('/')[2]}")
    await page.get_by_label("Your message").fill("Yes, it turns fine. Thursday suits me.")
    await page.get_by_role("button", name="Send").click()
    await page.wait_for_load_state()
    await page.context.close()
    ids = {
        "job": job_id,
        "other": other,
        "bid": int(pay.split("/")[2]),
        "contractor": int(contractor.split("/")[2]),
    }
    operator = await _sign_up(browser, base_url, "operator", "Olga Operator")
    people: dict[str, dict[str, Any] | None] = {"anyone": None, "homeowner": home, "contractor": pro}
    if admin is not None:
        people["admin"] = await _sign_in(browser, base_url, *admin)
        page = await _as(browser, base_url, people["admin"])
        await page.goto("/admin")
        await page.get_by_role("button", name="Approve Olga Operator").first.click()
        await page.wait_for_load_state()
        await page.context.close()
    page = await _as(browser, base_url, operator)
    for fips in NEW_YORK_CITY:  # the first one nobody runs yet
        await page.goto(f"/counties/{fips}")
        claim = page.get_by_role("button", name=re.compile("^Claim "))
        if await claim.count():
            await claim.click()
            await page.wait_for_load_state()
            break
    await page.context.close()
    ids |= await _invoiced(browser, base_url, home, pro)
    return {**people, "operator": operator}, ids


async def capture(base_url: str, out: Path, admin: tuple[str, str] | None = None) -> list[Shot]:
    out.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before the browser starts
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        people, ids = await _scene(browser, base_url, admin)
        shots = [
            await _shoot(browser, base_url, out, name, path.format(**ids), who, people[who])
            for name, path, who in PAGES
            if who in people
        ]
        await browser.close()
    (out / "weights.json").write_text(json.dumps([asdict(s) for s in shots], indent=2) + "\n")
    return shots


async def _shoot(
    browser: Browser, base_url: str, out: Path, name: str, path: str, who: str, state: dict[str, Any] | None
) -> Shot:
    page = await _as(browser, base_url, state)
    received: list[Response] = []
    page.on("response", lambda response: received.append(response))
    files = []
    for label, (width, height) in WIDTHS.items():
        await page.set_viewport_size({"width": width, "height": height})
        await page.goto(path, wait_until="networkidle")
        if label == "phone":  # the first load, on an empty cache
            counted = [r for r in received if r.request.resource_type in COUNTED]
            weight = sum([(await r.request.sizes())["responseBodySize"] for r in counted])
        file = f"{name}-{label}.png"
        await page.screenshot(path=out / file, full_page=True)
        files.append(file)
    await page.context.close()
    return Shot(name=name, path=path, who=who, weight_bytes=weight, files=files)
