"""Stripe through its SDK against a fake Stripe: charges, declines, and the payments breaker
opening, failing fast, probing and closing; an open breaker turns an accept into 202 pending."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.app import create_app
from ftw.billing.models import Payment
from ftw.config import Settings
from ftw.core.breakers import BreakerBoard
from ftw.core.db import Database
from ftw.integrations import build
from ftw.integrations.payments import Charge, PaymentDeclined, ProviderUnavailable, StripePayments
from tests.conftest import SignUp
from tests.integrations.conftest import CUT_OFF_S, QUICK
from tests.integrations.fake_vendor import FakeVendor
from tests.support.market import accept, market


def stripe(server: FakeVendor, board: BreakerBoard) -> StripePayments:
    return StripePayments(api_key="sk_test_fake", breaker=board["payments"], base_url=server.url)


async def charge(
    payments: StripePayments, key: str = "award:1:attempt-1", method: str = "pm_card_visa"
) -> Charge:
    return await payments.charge(
        amount_cents=12_000, payment_method=method, idempotency_key=key, description="Bid 1"
    )


async def fail_until_open(payments: StripePayments) -> None:
    for _ in range(QUICK.failures):
        with pytest.raises(ProviderUnavailable):
            await charge(payments)


async def test_a_charge_is_a_confirmed_payment_intent_with_the_idempotency_key(
    stripe_server: FakeVendor, board: BreakerBoard
) -> None:
    made = await charge(stripe(stripe_server, board), key="award:7:attempt-1")
    assert made.reference.startswith("pi_")
    assert made.amount_cents == 12_000
    [seen] = stripe_server.requests
    assert (seen.method, seen.path) == ("POST", "/v1/payment_intents")
    assert seen.body["confirm"] == "true"
    assert seen.body["amount"] == "12000"
    assert seen.headers["Idempotency-Key"] == "award:7:attempt-1"


async def test_refunds_and_payouts_go_to_their_endpoints(
    stripe_server: FakeVendor, board: BreakerBoard
) -> None:
    payments = stripe(stripe_server, board)
    assert (await payments.refund(reference="pi_1", amount_cents=500, idempotency_key="r1")).startswith("re_")
    assert (await payments.payout(amount_cents=900, destination="acct_1", idempotency_key="p1")).startswith(
        "tr_"
    )
    assert [s.path for s in stripe_server.requests] == ["/v1/refunds", "/v1/transfers"]
    assert stripe_server.requests[1].body["destination"] == "acct_1"


async def test_a_payout_is_found_by_its_key_and_an_unmade_one_is_not(
    stripe_server: FakeVendor, board: BreakerBoard
) -> None:
    payments = stripe(stripe_server, board)
    made = await payments.payout(amount_cents=900, destination="acct_1", idempotency_key="payout:41")
    assert stripe_server.requests[0].body["transfer_group"] == "payout:41"
    assert await payments.find_payout(idempotency_key="payout:41") == made
    assert await payments.find_payout(idempotency_key="payout:42") is None
    asked = stripe_server.requests[1:]
    assert [(s.method, s.path, s.body["transfer_group"]) for s in asked] == [
        ("GET", "/v1/transfers", "payout:41"),
        ("GET", "/v1/transfers", "payout:42"),
    ]


async def test_a_charge_is_found_by_its_key_and_an_unmade_one_is_not(
    stripe_server: FakeVendor, board: BreakerBoard
) -> None:
    payments = stripe(stripe_server, board)
    made = await charge(payments, key="award:9:attempt-1")
    assert stripe_server.requests[0].body["metadata[ftw_key]"] == "award:9:attempt-1"
    found = await payments.find_charge(idempotency_key="award:9:attempt-1")
    assert found == made
    assert await payments.find_charge(idempotency_key="award:9:attempt-2") is None
    assert [(s.method, s.path) for s in stripe_server.requests[1:]] == [
        ("GET", "/v1/payment_intents/search")
    ] * 2


async def test_a_payout_account_is_an_express_account_with_its_onboarding_link(
    stripe_server: FakeVendor, board: BreakerBoard
) -> None:
    opened = await stripe(stripe_server, board).open_account(
        email="pro@example.com",
        idempotency_key="payout-account:7",
        return_url="https://app.example/payouts/account",
    )
    assert opened.account_id.startswith("acct_")
    assert opened.onboarding_url == f"https://connect.example/setup/{opened.account_id}"
    created, link = stripe_server.requests
    assert (created.path, created.body["type"], created.headers["Idempotency-Key"]) == (
        "/v1/accounts", "express", "payout-account:7",
    )  # fmt: skip
    assert created.body["capabilities[transfers][requested]"] == "true"
    assert (link.path, link.body["type"]) == ("/v1/account_links", "account_onboarding")


async def test_a_declined_card_is_declined_and_does_not_count_against_the_vendor(
    stripe_server: FakeVendor, board: BreakerBoard
) -> None:
    payments = stripe(stripe_server, board)
    for _ in range(QUICK.failures + 1):
        with pytest.raises(PaymentDeclined, match="declined"):
            await charge(payments, method="pm_card_declined")
    assert board["payments"].state == "closed"


async def test_server_errors_open_the_breaker_which_then_fails_fast_without_calling(
    stripe_server: FakeVendor, board: BreakerBoard
) -> None:
    payments = stripe(stripe_server, board)
    stripe_server.mode = "fail"
    await fail_until_open(payments)
    assert board["payments"].state == "open"
    assert len(stripe_server.requests) == QUICK.failures

    started = time.perf_counter()
    for _ in range(5):
        with pytest.raises(ProviderUnavailable, match="circuit is open"):
            await charge(payments)
    assert time.perf_counter() - started < 0.1
    assert len(stripe_server.requests) == QUICK.failures  # none reached the vendor
    assert board["payments"].rejected == 5


async def test_after_the_reset_timeout_probes_go_through_and_two_successes_close(
    stripe_server: FakeVendor, board: BreakerBoard
) -> None:
    payments = stripe(stripe_server, board)
    stripe_server.mode = "fail"
    await fail_until_open(payments)
    stripe_server.mode = "ok"
    await asyncio.sleep(QUICK.reset_timeout_s + 0.05)
    assert board["payments"].state == "half_open"

    await charge(payments, key="probe-1")
    assert board["payments"].state == "half_open"  # one success is not enough
    await charge(payments, key="probe-2")
    assert board["payments"].state == "closed"  # type: ignore[comparison-overlap]  # the call moved it; mypy narrowed it
    assert len(stripe_server.requests) == QUICK.failures + 2


async def test_a_failed_probe_opens_the_breaker_again(stripe_server: FakeVendor, board: BreakerBoard) -> None:
    payments = stripe(stripe_server, board)
    stripe_server.mode = "fail"
    await fail_until_open(payments)
    await asyncio.sleep(QUICK.reset_timeout_s + 0.05)
    with pytest.raises(ProviderUnavailable):
        await charge(payments)  # the probe reaches the vendor and fails
    assert board["payments"].state == "open"
    with pytest.raises(ProviderUnavailable, match="circuit is open"):
        await charge(payments)
    assert len(stripe_server.requests) == QUICK.failures + 1


async def test_the_call_timeout_cancels_a_hanging_call(
    stripe_server: FakeVendor, board: BreakerBoard
) -> None:
    payments = stripe(stripe_server, board)
    stripe_server.mode = "hang"
    started = time.perf_counter()
    with pytest.raises(ProviderUnavailable):
        await charge(payments)
    assert time.perf_counter() - started < CUT_OFF_S
    assert board["payments"].consecutive_failures == 1
    assert "TimeoutError" in (board["payments"].last_failure or "")


async def test_a_slow_answer_within_the_timeout_is_a_success(
    stripe_server: FakeVendor, board: BreakerBoard
) -> None:
    stripe_server.mode = "slow"
    assert (await charge(stripe(stripe_server, board))).reference.startswith("pi_")
    assert board["payments"].state == "closed"


@pytest.fixture
async def stripe_client(
    quick_settings: Settings, database: Database, stripe_server: FakeVendor
) -> AsyncIterator[tuple[httpx.AsyncClient, BreakerBoard]]:
    """The app with the Stripe adapter pointed at the fake Stripe; its breaker stays open until
    reset (a request slowed by a busy test machine must not find it half-open)."""
    breakers = quick_settings.breakers.model_copy(
        update={"payments": QUICK.model_copy(update={"reset_timeout_s": 60})}
    )
    settings = quick_settings.model_copy(
        update={
            "breakers": breakers,
            "payments": quick_settings.payments.model_copy(
                update={
                    "adapter": "stripe",
                    "stripe_api_key": SecretStr("sk_test_fake"),
                    "base_url": stripe_server.url,
                }
            ),
        }
    )
    integrations = build(settings)
    app = create_app(settings, database=database, integrations=integrations)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c, integrations.breakers


async def test_accepting_while_the_payments_breaker_is_open_is_202_pending_and_queued_for_retry(
    stripe_client: tuple[httpx.AsyncClient, BreakerBoard],
    stripe_server: FakeVendor,
    sign_up: SignUp,
    session: AsyncSession,
) -> None:
    client, breakers = stripe_client
    deal = await market(client, sign_up)
    stripe_server.mode = "fail"
    await fail_until_open(
        StripePayments(api_key="sk", breaker=breakers["payments"], base_url=stripe_server.url)
    )
    reached = len(stripe_server.requests)

    pending = await accept(client, deal.homeowner, deal.bid)
    assert pending.status_code == 202, pending.text
    assert pending.json()["status"] == "pending"
    assert len(stripe_server.requests) == reached  # failed fast, Stripe never called
    payment = await session.scalar(select(Payment).where(Payment.id == pending.json()["payment"]["id"]))
    assert payment is not None
    assert payment.status == "pending"
    retries = await session.scalars(
        text("SELECT payload FROM pgqueuer WHERE entrypoint = 'billing.retry_payment'")
    )
    assert [json.loads(p)["payment_id"] for p in retries] == [payment.id]

    stripe_server.mode = "ok"
    breakers["payments"].reset()  # an admin closes it once Stripe is back
    again = await accept(client, deal.homeowner, deal.bid)
    assert again.status_code == 200, again.text
