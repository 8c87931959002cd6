"""The marketplace in a real browser: Debian's headless Chromium, driven by Playwright.

The app runs as ``ftw serve`` runs it (uvicorn, its own lifespan, engine and in-process
cache) in a thread, on a database of this module's own; each person has a browser context
of their own (their own cookies). Never skipped: a missing browser fails the run.
"""

from __future__ import annotations

import io
import os
import random
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
import uvicorn
from PIL import Image
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    FilePayload,
    Page,
    async_playwright,
    expect,
)

from ftw.app import create_app
from ftw.config import PayoutRules, Settings
from tests.conftest import PASSWORD, migrated_database
from tests.web.test_marketplace import PNG

CHROMIUM = os.environ.get("FTW_CHROMIUM", "/usr/bin/chromium")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def served_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The database of the served app (a test writes what only the database can: an admin)."""
    name = f"ftw_browser_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
    with migrated_database(name) as url:
        yield url


@pytest.fixture(scope="module")
def base_url(served_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app served over HTTP from a thread, as a browser reaches it."""
    data = tmp_path_factory.mktemp("browser")
    settings = Settings(
        environment="test", database_url=served_database, data_dir=data, media_dir=data / "media",
        payouts=PayoutRules(hold_days=0),  # earnings may be paid out at once
    )  # fmt: skip
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="web-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the server stopped"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    assert os.path.exists(CHROMIUM), f"no browser at {CHROMIUM} (apt-get install chromium)"  # noqa: ASYNC240
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        await browser.close()


REFUSED_FORM = re.compile(r"^Failed to load resource: the server responded with a status of (4\d\d|503)")


class Person:
    """One person at their own browser; script errors and CSP refusals are kept (a form the
    page refuses with a 4xx, as the test means it to, is not a problem)."""

    def __init__(self, context: BrowserContext, page: Page, base_url: str) -> None:
        self.context, self.page, self.base_url = context, page, base_url
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.problems.append(str(e)))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not REFUSED_FORM.match(message.text):
            self.problems.append(message.text)

    @classmethod
    async def at(cls, chromium: Browser, base_url: str, width: int = 390) -> Person:
        context = await chromium.new_context(base_url=base_url, viewport={"width": width, "height": 844})
        return cls(context, await context.new_page(), base_url)

    async def sign_up(self, role: str, name: str) -> str:
        page = self.page
        await page.goto("/")
        await page.get_by_role("link", name="Sign up").click()
        await page.get_by_label(f"({role})").check()
        await page.get_by_label("Full name").fill(name)
        email = f"{role}-{os.urandom(4).hex()}@example.com"
        await page.get_by_label("E-mail").fill(email)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_label("ZIP code").fill("10001")
        await page.get_by_role("button", name="Create account").click()
        await expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
        await expect(page.get_by_label("E-mail")).to_have_value(email)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        return email


async def _sql(database_url: str, statement: str, *args: object) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(statement, *args)
    finally:
        await connection.close()


async def test_a_job_from_posting_to_the_contractors_payout(
    chromium: Browser, base_url: str, served_database: str
) -> None:
    home = await Person.at(chromium, base_url)
    await home.sign_up("homeowner", "Hana Homeowner")
    await expect(home.page.get_by_role("heading", name="My jobs")).to_be_visible()

    await home.page.get_by_role("link", name="Post a job", exact=True).first.click()
    await home.page.get_by_label("What needs doing?").fill("Leaking kitchen faucet")
    await home.page.get_by_label("Describe the work").fill(
        "The kitchen faucet drips all day and the handle is loose at the base."
    )
    await home.page.get_by_label("Trade").select_option("plumbing")
    await expect(home.page.get_by_label("ZIP code of the job")).to_have_value("10001")
    await home.page.get_by_label("Normal: within a few days").check()
    await home.page.get_by_label("Photos").set_input_files(
        [FilePayload(name="faucet.png", mimeType="image/png", buffer=PNG)]
    )
    await home.page.get_by_role("button", name="Post and see the estimate").click()
    await expect(home.page.get_by_text("Your job is posted")).to_be_visible()
    await expect(home.page.locator(".estimate .price")).to_have_text(
        re.compile(r"^\$\d[\d,]* \u2013 \$\d[\d,]*$")
    )
    await expect(home.page.get_by_alt_text("Photo 1 of the job")).to_be_visible()
    await expect(home.page.get_by_text("No bids yet")).to_be_visible()
    job_url = home.page.url.split("?")[0]

    pro = await Person.at(chromium, base_url, width=1280)
    await pro.sign_up("contractor", "Cole Contractor")
    await expect(
        pro.page.get_by_role("heading", name=re.compile("Job board: New York County"))
    ).to_be_visible()
    await pro.page.get_by_label("Search").fill("faucet")
    await pro.page.get_by_role("button", name="Show jobs").click()
    await pro.page.get_by_role("link", name="Leaking kitchen faucet").click()
    hint = await pro.page.locator("#h-amount").inner_text()
    low = re.search(r"Between \$([\d,.]+) and", hint)
    assert low is not None, hint
    await pro.page.get_by_label("Your price in dollars").fill("10")
    await pro.page.get_by_label("Message to the homeowner").fill("I can come tomorrow at nine.")
    await pro.page.get_by_role("button", name="Place bid").click()
    await expect(pro.page.locator("#e-amount")).to_contain_text("Bid between")
    await expect(pro.page.get_by_label("Message to the homeowner")).to_have_value(
        "I can come tomorrow at nine."
    )
    amount = f"{float(low[1].replace(',', '')) + 25:.2f}"
    await pro.page.get_by_label("Your price in dollars").fill(amount)
    await pro.page.get_by_role("button", name="Place bid").click()
    await expect(pro.page.get_by_text(re.compile(r"Your bid: \$"))).to_be_visible()

    # The homeowner's page, never reloaded, shows the bid: the notification stream tells it.
    assert home.page.url.split("?")[0] == job_url
    await expect(home.page.get_by_text("I can come tomorrow at nine.")).to_be_visible(timeout=10_000)
    await expect(home.page.get_by_text("⚡ Lightning")).to_be_visible()
    await expect(home.page.locator("#bell .badge")).to_have_text(re.compile(r"^1"))

    # Messages: each side sees the other's arrive on the open thread.
    await home.page.get_by_role("link", name="Messages", exact=True).click()
    await pro.page.get_by_role("link", name="Messages with the homeowner").click()
    await expect(pro.page.get_by_text("No messages yet.")).to_be_visible()
    await pro.page.get_by_label("Your message").fill("Is the shut-off valve under the sink?")
    await pro.page.get_by_role("button", name="Send").click()
    await expect(home.page.get_by_text("Is the shut-off valve under the sink?")).to_be_visible(timeout=10_000)
    await home.page.get_by_label("Your message").fill("Yes, on the left.")
    await home.page.get_by_role("button", name="Send").click()
    await expect(pro.page.get_by_text("Yes, on the left.")).to_be_visible(timeout=10_000)
    await home.page.goto(job_url)
    await home.page.get_by_role("link", name="Accept and pay").click()
    await expect(home.page.get_by_role("heading", name="Accept and pay")).to_be_visible()
    await expect(home.page.locator(".sum .total td")).to_have_text(re.compile(r"^\$"))
    await home.page.get_by_label("Card number").fill("4242 4242 4242 4242")
    await home.page.get_by_role("button", name=re.compile(r"^Pay \$")).click()
    await expect(home.page.get_by_text("Paid. The payment is held")).to_be_visible()
    await expect(home.page.locator(".job .tag").first).to_have_text("awarded")

    await pro.page.goto("/bids")
    await expect(pro.page.locator(".card .tag").first).to_have_text("accepted")

    # The work: started, completed and reviewed; then invoiced, the invoice paid, and paid out.
    await pro.page.goto(job_url)
    await pro.page.get_by_role("button", name="Start work").click()
    await home.page.goto(job_url)
    await home.page.get_by_role("button", name="Mark complete").click()
    await home.page.get_by_label("5 of 5").check()
    await home.page.get_by_label("What was it like?").fill("Quick, tidy and friendly.")
    await home.page.get_by_role("button", name="Post review").click()
    await expect(home.page.get_by_role("heading", name="Your review")).to_be_visible()

    await pro.page.goto(job_url)
    await pro.page.get_by_role("link", name="Invoice this job").click()
    await pro.page.locator("#f-line1_description").fill("Faucet cartridge, fitted")
    await pro.page.locator("#f-line1_price").fill("120")
    await pro.page.get_by_role("button", name="Save draft").click()
    await expect(pro.page.get_by_text("Draft saved")).to_be_visible()
    await pro.page.get_by_role("button", name="Send to the homeowner").click()
    await expect(pro.page.get_by_text("Sent: the homeowner is notified.")).to_be_visible()

    await home.page.get_by_role("link", name="Invoices").click()
    await home.page.get_by_role("link", name="INV-000001").click()
    await expect(home.page.get_by_label("Amount in dollars")).to_have_value("120.00")
    await home.page.get_by_label("Card number").fill("4242 4242 4242 4242")
    await home.page.get_by_role("button", name="Pay", exact=True).click()
    await expect(home.page.get_by_text("Payment received")).to_be_visible()
    await expect(home.page.locator("#balance-due")).to_have_text("$0")

    await pro.page.get_by_role("link", name="Payouts").click()
    await pro.page.get_by_role("button", name="Set up payouts").click()
    await expect(pro.page.get_by_text("Your payout account is open")).to_be_visible()
    await pro.page.get_by_label("Amount in dollars").fill("100")
    await pro.page.get_by_role("radio", name=re.compile("Instant")).check()
    await pro.page.get_by_role("button", name="Review the payout").click()
    await expect(pro.page.locator("#payout-fee")).to_have_text("$1")
    await pro.page.get_by_role("button", name="Pay out $100").click()
    await expect(pro.page.get_by_text("Payout sent to your bank.")).to_be_visible()
    await expect(pro.page.locator("#payouts")).to_contain_text("instant")

    # An admin approves an operator, who claims the county and sees the job on its dashboard.
    admin = await Person.at(chromium, base_url, width=1280)
    admin_email = await admin.sign_up("homeowner", "Ada Admin")
    await _sql(served_database, "UPDATE users SET role = 'admin' WHERE email = $1", admin_email)
    await admin.page.get_by_role("button", name="Sign out").click()
    await admin.page.goto("/signin")
    await admin.page.get_by_label("E-mail").fill(admin_email)
    await admin.page.get_by_label("Password").fill(PASSWORD)
    await admin.page.get_by_role("button", name="Sign in").click()
    await expect(admin.page.get_by_role("heading", name="Admin")).to_be_visible()
    operator = await Person.at(chromium, base_url)
    await operator.sign_up("operator", "Otto Operator")
    await admin.page.reload()
    await admin.page.get_by_role("button", name="Approve Otto Operator").click()
    await expect(admin.page.get_by_text("No application is waiting")).to_be_visible()
    await operator.page.goto("/counties/36061")
    await operator.page.get_by_role("button", name="Claim New York County").click()
    await expect(operator.page.get_by_role("heading", name="New York County, NY")).to_be_visible()
    await operator.page.get_by_role("link", name="completed", exact=True).click()
    await expect(operator.page.get_by_role("link", name="Leaking kitchen faucet")).to_be_visible()
    await expect(operator.page.get_by_role("link", name="Cole Contractor")).to_be_visible()

    # The admin pauses job posting from its page; the homeowner's form says why and keeps the text.
    switch = admin.page.locator("#switch-job_posting")
    await switch.get_by_label("Message").fill("Posting is paused for ten minutes.")
    await switch.get_by_role("button", name="Turn off").click()
    await expect(admin.page.locator("#switch-job_posting .tag")).to_have_text("off")
    await home.page.goto("/jobs/new")
    await home.page.get_by_label("What needs doing?").fill("Squeaky garden gate")
    await home.page.get_by_label("Describe the work").fill(
        "The garden gate hinge squeaks and sticks when it rains."
    )
    await home.page.get_by_label("Trade").select_option("carpentry")
    await home.page.get_by_role("button", name="Post and see the estimate").click()
    await expect(home.page.get_by_text("Posting is paused for ten minutes.")).to_be_visible()
    await expect(home.page.get_by_label("What needs doing?")).to_have_value("Squeaky garden gate")
    await admin.page.locator("#switch-job_posting").get_by_role("button", name="Turn on").click()
    await expect(admin.page.locator("#switch-job_posting .tag")).to_have_text("on")
    for person in (home, pro, operator, admin):
        assert not person.problems, person.problems  # no CSP refusal, no script error
        await person.context.close()


async def test_pages_work_with_javascript_off(chromium: Browser, base_url: str) -> None:
    """Every form posts without JavaScript; htmx only improves them."""
    context = await chromium.new_context(base_url=base_url, java_script_enabled=False)
    person = Person(context, await context.new_page(), base_url)
    await person.sign_up("homeowner", "Nora NoScript")
    await person.page.goto("/jobs/new")
    await person.page.get_by_label("What needs doing?").fill("Fix")
    await person.page.get_by_label("Describe the work").fill("The gate hinge is broken and squeaks.")
    await person.page.get_by_label("Trade").select_option("carpentry")
    await person.page.get_by_role("button", name="Post and see the estimate").click()
    await expect(person.page.locator("#e-title")).to_have_text("Title must be at least 5 characters")
    await expect(person.page.get_by_label("Describe the work")).to_have_value(
        "The gate hinge is broken and squeaks."
    )
    await context.close()


async def test_the_offline_page_when_the_network_is_gone(chromium: Browser, base_url: str) -> None:
    person = await Person.at(chromium, base_url)
    await person.page.goto("/")
    registered = await person.page.evaluate("navigator.serviceWorker.ready.then(r => r.active !== null)")
    assert registered is True
    await person.page.reload()  # now under the worker's control
    await person.context.set_offline(True)
    await person.page.goto("/counties/36061")
    await expect(person.page.get_by_role("heading", name="You are offline")).to_be_visible()
    await person.context.set_offline(False)
    await person.context.close()


async def test_a_tampered_cookie_signs_nobody_in(chromium: Browser, base_url: str) -> None:
    person = await Person.at(chromium, base_url)
    await person.sign_up("homeowner", "Tess Tamper")
    cookies = {c["name"]: c for c in await person.context.cookies()}
    access, refresh = cookies["ftw_access"], cookies["ftw_refresh"]
    # Off the signed-in page first: its bell, polling without a valid cookie meanwhile, would
    # send the page to sign in and race the navigation below.
    await person.page.goto("about:blank")
    await person.context.clear_cookies()
    tampered = [
        {**access, "value": access["value"][:-3] + "abc"},
        {**refresh, "value": refresh["value"][::-1]},
    ]
    await person.context.add_cookies(tampered)  # type: ignore[arg-type]
    await person.page.goto("/dashboard")
    await expect(person.page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(person.page.get_by_role("button", name="Sign out")).to_have_count(0)
    await person.context.close()


async def test_refusals_of_a_password_change_keep_to_their_field(chromium: Browser, base_url: str) -> None:
    person = await Person.at(chromium, base_url)
    await person.sign_up("homeowner", "Wren Wrong")
    await person.page.get_by_role("link", name="Account").click()
    await person.page.get_by_label("Current password").fill("not the password at all")
    await person.page.get_by_label("New password").fill("a much longer new passphrase")
    await person.page.get_by_role("button", name="Change password").click()
    await expect(person.page.locator("#e-current")).to_have_text("The current password is wrong")
    await person.page.get_by_label("Current password").fill(PASSWORD)
    await person.page.get_by_label("New password").fill("a much longer new passphrase")
    await person.page.get_by_role("button", name="Change password").click()
    await expect(person.page.get_by_text("Your password is changed.")).to_be_visible()
    assert not person.problems, person.problems
    await person.context.close()


async def test_a_large_photo_is_shrunk_in_the_browser_before_upload(chromium: Browser, base_url: str) -> None:
    """With JavaScript on, the post-a-job form redraws a 3000 x 2000 photo at 2048 px before
    sending it: the stored original is that smaller one."""
    rng = random.Random(1)
    noise = Image.frombytes("RGB", (750, 500), rng.randbytes(750 * 500 * 3))
    out = io.BytesIO()
    noise.resize((3000, 2000), Image.Resampling.BICUBIC).save(out, format="JPEG", quality=95)
    large = out.getvalue()
    home = await Person.at(chromium, base_url)
    await home.sign_up("homeowner", "Lena Large")
    await home.page.goto("/jobs/new")
    await home.page.get_by_label("What needs doing?").fill("Cracked bathroom tiles")
    await home.page.get_by_label("Describe the work").fill("Six wall tiles behind the bath are cracked.")
    await home.page.get_by_label("Trade").select_option("handyman")
    await home.page.get_by_label("Photos").set_input_files(
        [FilePayload(name="tiles.jpg", mimeType="image/jpeg", buffer=large)]
    )
    await home.page.get_by_role("button", name="Post and see the estimate").click()  # once shrunk
    await expect(home.page.get_by_text("Your job is posted")).to_be_visible()
    thumbnail = home.page.get_by_alt_text("Photo 1 of the job")
    await expect(thumbnail).to_have_attribute("loading", "lazy")
    await expect(thumbnail).to_have_attribute("src", re.compile(r"-320\.webp$"))
    original = await home.page.locator(".photos a").first.get_attribute("href")
    assert original is not None
    stored = await (await home.page.request.get(original)).body()
    with Image.open(io.BytesIO(stored)) as image:
        assert image.size == (2048, 1365)
    assert len(stored) < len(large) / 2
    assert not home.problems, home.problems
    await home.context.close()
