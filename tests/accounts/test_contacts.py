"""Nothing is sent to a phone or an address before it is verified; STOP is honoured."""

from __future__ import annotations

import re

import httpx
from pydantic import SecretStr
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from twilio.request_validator import RequestValidator

from ftw.accounts import tasks as account_tasks
from ftw.accounts.models import User
from ftw.app import create_app
from ftw.config import Settings, SmsVendor
from ftw.core.db import Database
from ftw.messaging.models import Delivery
from ftw.messaging.notifications import notify
from ftw.worker import Registry, drain
from tests.conftest import SignUp
from tests.support.market import recording_integrations

TWILIO_TOKEN = "twilio-auth-token-for-tests"
PHONE = "+12125550100"


async def _deliveries(session: AsyncSession, user_id: int) -> list[str]:
    await notify(session, user_id=user_id, kind="bid.new", payload={"job_id": 1, "amount_cents": 100})
    channels = await session.scalars(select(Delivery.channel).order_by(Delivery.channel))
    return list(channels)


async def test_an_unverified_address_and_phone_get_nothing(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    """The attack: sign up with someone else's address and number, then make us mail them."""
    account = await sign_up(phone="(212) 555-0100")
    assert await _deliveries(session, account.id) == []  # stored in the app's list only
    stored = await session.scalar(select(User.phone).where(User.id == account.id))
    assert stored == PHONE  # E.164


async def test_verified_contacts_get_what_their_owner_wants(sign_up: SignUp, session: AsyncSession) -> None:
    account = await sign_up(phone=PHONE)
    await session.execute(
        update(User)
        .where(User.id == account.id)
        .values(email_verified_at=func.now(), phone_verified_at=func.now())
    )
    assert await _deliveries(session, account.id) == ["email", "sms"]
    await session.execute(update(User).where(User.id == account.id).values(notify_sms=False))
    await session.execute(delete(Delivery))
    assert await _deliveries(session, account.id) == ["email"]


async def test_a_phone_is_verified_by_the_code_texted_to_it(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, database: Database, settings: Settings
) -> None:
    account = await sign_up()
    changed = await client.patch("/api/v1/me", json={"phone": "212-555-0100"}, headers=account.headers)
    assert changed.json()["phone"] == PHONE
    assert changed.json()["phone_verified_at"] is None
    asked = await client.post("/api/v1/me/phone/code", headers=account.headers)
    assert asked.status_code == 202
    integrations, sms, _ = recording_integrations(settings)
    await drain(database, settings, integrations, registry=Registry(account_tasks.TASKS))
    [text] = [m for m in sms.sent if m["to"] == PHONE]
    code = re.search(r"\b(\d{6})\b", text["body"]).group(1)  # type: ignore[union-attr]
    wrong = "000000" if code != "000000" else "111111"
    refused = await client.post("/api/v1/me/phone/verify", json={"code": wrong}, headers=account.headers)
    assert refused.status_code == 422  # the session stays good: only the code is wrong
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["errors"] == [{"field": "code", "message": "That code is not right"}]
    done = await client.post("/api/v1/me/phone/verify", json={"code": code}, headers=account.headers)
    assert done.status_code == 204
    me = await client.get("/api/v1/me", headers=account.headers)
    assert me.json()["phone_verified_at"] is not None
    again = await client.post("/api/v1/me/phone/verify", json={"code": code}, headers=account.headers)
    assert again.status_code == 409, "a used code is spent"


async def test_a_bad_phone_number_is_refused(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    account = await sign_up()
    refused = await client.patch("/api/v1/me", json={"phone": "555-CALL-NOW"}, headers=account.headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "phone"


def _twilio_app(settings: Settings, database: Database) -> httpx.AsyncClient:
    configured = settings.model_copy(update={"sms": SmsVendor(twilio_auth_token=SecretStr(TWILIO_TOKEN))})
    transport = httpx.ASGITransport(app=create_app(configured, database=database))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_stop_by_sms_opts_the_number_out_and_only_twilio_may_say_so(
    sign_up: SignUp, session: AsyncSession, settings: Settings, database: Database
) -> None:
    account = await sign_up(phone=PHONE)
    await session.execute(
        update(User)
        .where(User.id == account.id)
        .values(email_verified_at=func.now(), phone_verified_at=func.now())
    )
    url = settings.public_url.rstrip("/") + "/api/v1/sms/inbound"
    form = {"From": PHONE, "Body": "Stop", "MessageSid": "SM1"}
    async with _twilio_app(settings, database) as client:
        forged = await client.post("/api/v1/sms/inbound", data=form, headers={"X-Twilio-Signature": "forged"})
        assert forged.status_code == 403  # anyone else's STOP (or START) is ignored
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
        stopped = await client.post(
            "/api/v1/sms/inbound", data=form, headers={"X-Twilio-Signature": signature}
        )
    assert stopped.status_code == 200
    assert "<Response/>" in stopped.text
    assert await _deliveries(session, account.id) == ["email"]  # no more texts
