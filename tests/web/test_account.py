"""The account pages: change the password, and reset it by an e-mailed single-use link."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.models import AccountToken, User
from ftw.config import Settings
from ftw.core.db import Database
from tests.accounts.test_account_security import _mails
from tests.conftest import PASSWORD
from tests.web.conftest import Browser

NEW = "a much longer new passphrase"


async def test_changing_the_password_needs_the_current_one(browser_factory: Callable[[], Browser]) -> None:
    person, elsewhere = browser_factory(), browser_factory()
    email = await person.sign_up()
    assert (await elsewhere.post("/signin", {"email": email, "password": PASSWORD})).status_code == 303
    page = await person.get("/account")
    assert email in page.text
    assert 'action="/account/password"' in page.text

    wrong = await person.post("/account/password", {"current": "not my password", "new": NEW})
    assert wrong.status_code == 422
    assert 'id="e-current">The current password is wrong' in wrong.text
    short = await person.post("/account/password", {"current": PASSWORD, "new": "short"})
    assert short.status_code == 422
    assert 'id="e-new">' in short.text
    assert PASSWORD not in short.text, "a password is never typed back into the page"

    changed = await person.post("/account/password", {"current": PASSWORD, "new": NEW})
    assert changed.status_code == 303
    after = await person.get(changed.headers["location"])
    assert "Your password is changed" in after.text, "this browser stays signed in"
    elsewhere.client.cookies.delete("ftw_access")  # the other device's next renewal
    assert (await elsewhere.get("/dashboard")).status_code == 303, "every other session ended"
    again = browser_factory()
    assert (await again.post("/signin", {"email": email, "password": PASSWORD})).status_code == 401
    assert (await again.post("/signin", {"email": email, "password": NEW})).status_code == 303


async def _reset_link(
    browser_factory: Callable[[], Browser], database: Database, settings: Settings
) -> tuple[str, str]:
    """An account, and the reset link e-mailed to it (through the e-mail adapter)."""
    person = browser_factory()
    email = await person.sign_up()
    asked = browser_factory()
    assert "Forgot your password?" in (await asked.get("/signin")).text
    for address in (email, "nobody-here@example.com"):
        answer = await asked.post("/forgot-password", {"email": address})
        assert answer.status_code == 202
        assert "a link to choose a new password is on its way" in answer.text  # the same for both
    sent = [m for m in await _mails(database, settings, "/reset-password?token=") if m["to"] == email]
    assert len(sent) == 1
    found = re.search(r"(/reset-password\?token=[\w-]+)", sent[0]["body"])
    assert found is not None
    return email, found[1]


async def test_a_reset_link_sets_a_new_password_once(
    browser_factory: Callable[[], Browser], database: Database, settings: Settings
) -> None:
    email, link = await _reset_link(browser_factory, database, settings)
    person = browser_factory()
    form = await person.get(link)
    token = re.search(r'name="token" value="([\w-]+)"', form.text)
    assert token is not None
    short = await person.post("/reset-password", {"token": token[1], "new": "short"})
    assert short.status_code == 422
    assert 'id="e-new">' in short.text
    assert 'value="' + token[1] in short.text, "the link is kept for the next try"
    done = await person.post("/reset-password", {"token": token[1], "new": NEW})
    assert done.status_code == 200
    assert "Your password is changed: sign in with it." in done.text
    used = await person.post("/reset-password", {"token": token[1], "new": NEW + "!"})
    assert used.status_code == 401
    assert "This link is invalid or has expired" in used.text
    assert 'href="/forgot-password"' in used.text
    assert (await person.post("/signin", {"email": email, "password": NEW})).status_code == 303


async def test_an_expired_reset_link_is_refused(
    browser_factory: Callable[[], Browser], database: Database, settings: Settings
) -> None:
    email, link = await _reset_link(browser_factory, database, settings)
    async with database.session() as s:
        await s.execute(
            update(AccountToken)
            .where(AccountToken.purpose == "password_reset")
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    token = link.split("=", 1)[1]
    person = browser_factory()
    expired = await person.post("/reset-password", {"token": token, "new": NEW})
    assert expired.status_code == 401
    assert "This link is invalid or has expired" in expired.text
    cut = await person.post("/reset-password", {"token": "abc", "new": NEW})
    assert cut.status_code == 422
    assert "This link is invalid or has expired" in cut.text
    assert (await person.post("/signin", {"email": email, "password": PASSWORD})).status_code == 303


async def test_the_sign_up_e_mails_link_confirms_the_address_with_one_click(
    browser_factory: Callable[[], Browser], database: Database, settings: Settings
) -> None:
    email = await browser_factory().sign_up()
    sent = [m for m in await _mails(database, settings, "/confirm-email?token=") if m["to"] == email]
    assert len(sent) == 1
    found = re.search(r"/confirm-email\?token=([\w-]+)", sent[0]["body"])
    assert found is not None
    visitor = browser_factory()  # the link opened anywhere, signed in or not
    opened = await visitor.get(f"/confirm-email?token={found[1]}")
    assert opened.status_code == 200
    assert "Confirm this address" in opened.text
    async with database.sessions() as session:
        verified = await session.scalar(select(User.email_verified_at).where(User.email == email))
    assert verified is None, "opening the link (as a mail scanner does) confirms nothing"

    confirmed = await visitor.post("/confirm-email", {"token": found[1]})
    assert confirmed.status_code == 200
    assert "Your address is confirmed" in confirmed.text
    async with database.sessions() as session:
        verified = await session.scalar(select(User.email_verified_at).where(User.email == email))
    assert verified is not None
    again = await visitor.post("/confirm-email", {"token": found[1]})
    assert again.status_code >= 400
    assert "invalid, used or has expired" in again.text
    cut = await visitor.post("/confirm-email", {"token": "short"})
    assert cut.status_code == 422
    assert "invalid, used or has expired" in cut.text


async def test_notification_emails_and_texts_are_turned_off_and_back_on(
    browser_factory: Callable[[], Browser], session: AsyncSession
) -> None:
    person = browser_factory()
    email = await person.sign_up()
    page = await person.get("/account")
    assert '<input type="checkbox" name="notify_email" checked>' in page.text

    off = await person.post("/account/notifications", {"notify_sms": "on"})  # the e-mail box unticked
    assert off.status_code == 303
    saved = await person.get(off.headers["location"])
    assert "Your notification choices are saved" in saved.text
    assert '<input type="checkbox" name="notify_email">' in saved.text
    user = await session.scalar(select(User).where(User.email == email))
    assert user is not None
    assert (user.notify_email, user.notify_sms) == (False, True)

    on = await person.post("/account/notifications", {"notify_email": "on"})
    assert on.status_code == 303
    await session.refresh(user)
    assert (user.notify_email, user.notify_sms) == (True, False)
