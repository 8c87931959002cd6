"""One-click unsubscribe from notification e-mails, end to end through the sandbox outbox:
the link and RFC 8058 headers in the e-mail, the page it opens, the mail client's POST."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts import tasks as account_tasks
from ftw.accounts.models import User
from ftw.config import Settings
from ftw.core.audit import AuditEntry
from ftw.core.db import Database
from ftw.integrations import build
from ftw.messaging import tasks as messaging_tasks
from ftw.messaging.notifications import notify
from ftw.worker import Registry, drain
from tests.support.market import make_user
from tests.web.conftest import Browser

MAIL = Registry({**messaging_tasks.TASKS, **account_tasks.TASKS})


async def _sent(database: Database, settings: Settings, to: str) -> list[dict[str, Any]]:
    """Run the queued e-mails through the sandbox adapter; what its outbox holds for ``to``."""
    await drain(database, settings, build(settings), registry=MAIL)
    outbox = settings.data_dir / "outbox" / "email.jsonl"
    lines = outbox.read_text().splitlines() if outbox.exists() else []
    return [m for m in map(json.loads, lines) if m["to"] == to]


async def test_the_link_in_a_notification_email_turns_notification_emails_off(
    browser_factory: Callable[[], Browser],
    session: AsyncSession,
    database: Database,
    settings: Settings,
    tmp_path: Path,
) -> None:
    settings = settings.model_copy(update={"data_dir": tmp_path})  # an outbox of this test's own
    user = await make_user(session, settings)
    await notify(session, user_id=user.id, kind="bid.new", payload={"job_id": 7, "amount_cents": 9_900})
    (mail,) = await _sent(database, settings, user.email)
    link = mail["headers"]["List-Unsubscribe"].strip("<>")
    assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link.startswith(f"{settings.public_url}/unsubscribe?token=")
    assert link in mail["body"]
    path = link.removeprefix(settings.public_url)

    reader = browser_factory()  # whoever opens the link: no session
    opened = await reader.get(path)
    assert opened.status_code == 200
    assert user.email in opened.text
    assert "<button" in opened.text
    assert (await session.get_one(User, user.id, populate_existing=True)).notify_email, (
        "opening changes nothing"
    )

    mail_client = browser_factory()  # RFC 8058: a POST without cookies or a CSRF token
    clicked = await mail_client.client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert clicked.status_code == 200
    assert "gets no more notification e-mails" in clicked.text
    assert not (await session.get_one(User, user.id, populate_existing=True)).notify_email
    entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "email.unsubscribed"))
    assert entry is not None
    assert entry.target == f"user:{user.id}"
    assert "gets no more notification e-mails" in (await reader.get(path)).text

    await notify(session, user_id=user.id, kind="bid.new", payload={"job_id": 8, "amount_cents": 100})
    assert len(await _sent(database, settings, user.email)) == 1, "no notification e-mail since"
    forgot = await mail_client.client.post("/api/v1/auth/password/forgot", json={"email": user.email})
    assert forgot.status_code == 202
    account_mail = (await _sent(database, settings, user.email))[1:]
    assert [m["subject"] for m in account_mail] == ["Reset your FairTradeWorker password"]
    assert "headers" not in account_mail[0], "an account e-mail has no unsubscribe"


async def test_a_forged_or_altered_link_unsubscribes_nobody(
    browser: Browser, session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(session, settings)
    for token in (f"{user.id}.AAAAAAAAAAAAAAAAAAAAAAAA", f"{user.id + 1}.x", "nothing"):
        refused = await browser.client.post(f"/unsubscribe?token={token}")
        assert refused.status_code == 404
        assert "This unsubscribe link is not valid" in refused.text
    assert (await browser.get("/unsubscribe")).status_code == 404
    assert (await session.get_one(User, user.id, populate_existing=True)).notify_email
