"""Twilio and SendGrid through their SDKs against fake servers: sent when up; when down,
slow or behind an open breaker, DeliveryFailed, so the delivery stays queued for a retry."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.config import Settings
from ftw.core.breakers import BreakerBoard
from ftw.core.db import Database
from ftw.integrations import build
from ftw.integrations.context import TaskContext
from ftw.integrations.messages import DeliveryFailed, SendGridEmail, TwilioSms
from ftw.messaging import tasks as messaging_tasks
from ftw.messaging.models import Delivery
from ftw.messaging.notifications import notify
from tests.integrations.conftest import CUT_OFF_S, QUICK
from tests.integrations.fake_vendor import FakeVendor
from tests.support.market import make_user

SID = "AC" + "0" * 32


def twilio_api(method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    if path == f"/2010-04-01/Accounts/{SID}/Messages.json":
        return 201, {"sid": "SM" + "1" * 32, "status": "queued", "to": body["To"], "body": body["Body"]}
    return 404, {"code": 20404, "message": "not found", "status": 404}


def sendgrid_api(method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return (202, {}) if path == "/v3/mail/send" else (404, {"errors": [{"message": "not found"}]})


@pytest.fixture
async def twilio_server() -> AsyncIterator[FakeVendor]:
    server = await FakeVendor(twilio_api).start()
    yield server
    await server.stop()


@pytest.fixture
async def sendgrid_server() -> AsyncIterator[FakeVendor]:
    server = await FakeVendor(sendgrid_api).start()
    yield server
    await server.stop()


@pytest.fixture
async def twilio(twilio_server: FakeVendor, board: BreakerBoard) -> AsyncIterator[TwilioSms]:
    sms = TwilioSms(
        account_sid=SID,
        auth_token="tok",
        from_number="+15005550006",
        breaker=board["sms"],
        base_url=twilio_server.url,
    )
    yield sms
    await sms.aclose()


@pytest.fixture
def sendgrid(sendgrid_server: FakeVendor, board: BreakerBoard) -> SendGridEmail:
    return SendGridEmail(
        api_key="SG.fake",
        from_address="no-reply@example.com",
        breaker=board["email"],
        base_url=sendgrid_server.url,
    )


async def test_twilio_sends_an_sms(twilio: TwilioSms, twilio_server: FakeVendor) -> None:
    assert await twilio.send(to="+12125550100", body="Hello") == "SM" + "1" * 32
    [seen] = twilio_server.requests
    assert seen.body == {"To": "+12125550100", "From": "+15005550006", "Body": "Hello"}


async def test_twilio_down_opens_the_sms_breaker_then_fails_fast(
    twilio: TwilioSms, twilio_server: FakeVendor, board: BreakerBoard
) -> None:
    twilio_server.mode = "fail"
    twilio_server.fail_body = {"code": 20500, "message": "Internal error", "status": 503}
    for _ in range(QUICK.failures):
        with pytest.raises(DeliveryFailed):
            await twilio.send(to="+12125550100", body="Hello")
    assert board["sms"].state == "open"
    with pytest.raises(DeliveryFailed, match="circuit is open"):
        await twilio.send(to="+12125550100", body="Hello")
    assert len(twilio_server.requests) == QUICK.failures


async def test_a_number_twilio_refuses_fails_the_send_but_not_the_breaker(
    twilio: TwilioSms, twilio_server: FakeVendor, board: BreakerBoard
) -> None:
    twilio_server.mode = "fail"
    twilio_server.fail_status = 400
    twilio_server.fail_body = {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}
    for _ in range(QUICK.failures + 1):
        with pytest.raises(DeliveryFailed, match="Invalid"):
            await twilio.send(to="+1", body="Hello")
    assert board["sms"].state == "closed"


async def test_sendgrid_sends_an_email(sendgrid: SendGridEmail, sendgrid_server: FakeVendor) -> None:
    headers = {
        "List-Unsubscribe": "<https://x.test/unsubscribe?token=1.a>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    sent = await sendgrid.send(to="a@example.com", subject="Hi", body="Text", headers=headers)
    assert sent.startswith("sendgrid_")
    [seen] = sendgrid_server.requests
    assert seen.body["headers"] == headers
    assert seen.body["personalizations"][0]["to"] == [{"email": "a@example.com"}]
    assert seen.body["subject"] == "Hi"
    assert seen.headers["Authorization"] == "Bearer SG.fake"


async def test_a_hanging_sendgrid_is_cut_off_at_the_call_timeout(
    sendgrid: SendGridEmail, sendgrid_server: FakeVendor, board: BreakerBoard
) -> None:
    sendgrid_server.mode = "hang"
    started = time.perf_counter()
    with pytest.raises(DeliveryFailed):
        await sendgrid.send(to="a@example.com", subject="Hi", body="Text")
    assert time.perf_counter() - started < CUT_OFF_S
    assert "TimeoutError" in (board["email"].last_failure or "")


async def test_with_the_vendors_down_the_delivery_task_retries_and_the_delivery_stays_pending(
    session: AsyncSession,
    database: Database,
    quick_settings: Settings,
    twilio_server: FakeVendor,
    sendgrid_server: FakeVendor,
) -> None:
    settings = quick_settings.model_copy(
        update={
            "sms": quick_settings.sms.model_copy(
                update={
                    "adapter": "twilio",
                    "twilio_account_sid": SID,
                    "twilio_auth_token": SecretStr("tok"),
                    "from_number": "+15005550006",
                    "base_url": twilio_server.url,
                }
            ),
            "email": quick_settings.email.model_copy(
                update={
                    "adapter": "sendgrid",
                    "sendgrid_api_key": SecretStr("SG.fake"),
                    "base_url": sendgrid_server.url,
                }
            ),
        }
    )
    integrations = build(settings)
    assert isinstance(integrations.sms, TwilioSms)
    user = await make_user(session, settings, phone="+12125550100")
    notification = await notify(session, user_id=user.id, kind="bid.new", payload={"job_id": 1})
    context = TaskContext(database, settings, integrations)
    twilio_server.mode = sendgrid_server.mode = "fail"
    try:
        for channel in ("sms", "email"):
            with pytest.raises(DeliveryFailed):  # the worker's retry policy runs it again later
                await messaging_tasks.deliver(
                    context, {"notification_id": notification.id, "channel": channel}
                )
        deliveries = await session.scalars(
            select(Delivery)
            .where(Delivery.notification_id == notification.id)
            .execution_options(populate_existing=True)
        )
        assert {(d.channel, d.status, d.attempts) for d in deliveries} == {
            ("sms", "pending", 1),
            ("email", "pending", 1),
        }

        twilio_server.mode = sendgrid_server.mode = "ok"
        for channel in ("sms", "email"):
            await messaging_tasks.deliver(context, {"notification_id": notification.id, "channel": channel})
        deliveries = await session.scalars(
            select(Delivery)
            .where(Delivery.notification_id == notification.id)
            .execution_options(populate_existing=True)
        )
        assert {(d.channel, d.status) for d in deliveries} == {("sms", "sent"), ("email", "sent")}
    finally:
        await integrations.sms.aclose()
