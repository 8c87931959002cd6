"""Balances and payouts: fees, limits, idempotency, and racing payouts."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ftw.accounts.models import User
from ftw.billing import ledger
from ftw.billing.ledger import Entry
from ftw.billing.models import Account, LedgerEntry, Payout
from ftw.billing.payouts import RESOLVE_TASK
from ftw.billing.tasks import resolve_payout
from ftw.config import PayoutRules, Settings
from ftw.core.db import Database
from ftw.integrations import Integrations
from ftw.integrations.payments import ProviderUnavailable
from ftw.messaging.models import Notification
from ftw.worker import Registry, drain
from tests import conftest
from tests.conftest import SignUp
from tests.support.market import CountingSandbox, awarded, completed


async def _credit(session: AsyncSession, user_id: int, cents: int) -> None:
    """Give a contractor a balance, as a paid invoice would (once per test and user)."""
    await ledger.post(
        session,
        kind="test_credit",
        entries=[Entry(Account.CARD, user_id, -cents), Entry(Account.CONTRACTOR, user_id, cents)],
    )


async def _balance(client: httpx.AsyncClient, user: conftest.Account) -> dict[str, int]:
    response = await client.get("/api/v1/balance", headers=user.headers)
    assert response.status_code == 200, response.text
    body: dict[str, int] = response.json()
    return body


async def test_escrow_is_pending_until_completion_then_available(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    deal = await awarded(client, sign_up)
    bid = deal.bid["amount_cents"]
    assert await _balance(client, deal.contractor) == {
        "available_cents": 0,
        "pending_cents": bid,
        "held_cents": 0,
    }
    await client.post(f"/api/v1/jobs/{deal.job['id']}/start", headers=deal.contractor.headers)
    await client.post(f"/api/v1/jobs/{deal.job['id']}/complete", headers=deal.homeowner.headers)
    assert await _balance(client, deal.contractor) == {
        "available_cents": bid,
        "pending_cents": 0,
        "held_cents": 0,
    }


async def test_an_operator_sees_its_pending_share(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    operator = await sign_up("operator")
    await client.post("/api/v1/territories/36061/claim", headers=operator.headers)
    await awarded(client, sign_up)  # ZIP 10001: New York County, 36061
    assert await _balance(client, operator) == {"available_cents": 0, "pending_cents": 200, "held_cents": 0}


async def test_only_contractors_and_operators_have_a_balance(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    assert (await client.get("/api/v1/balance")).status_code == 401
    assert (await client.get("/api/v1/balance", headers=(await sign_up()).headers)).status_code == 403
    body = {"amount_cents": 100}
    assert (await client.post("/api/v1/payouts", json=body)).status_code == 401
    assert (
        await client.post("/api/v1/payouts", json=body, headers=(await sign_up()).headers)
    ).status_code == 403


@pytest.mark.parametrize(
    ("amount", "speed", "fee"),
    [(10_000, "standard", 0), (10_000, "instant", 100), (100_000, "instant", 500), (99, "instant", 0)],
)
async def test_payout_fees(
    client: httpx.AsyncClient,
    sign_up: SignUp,
    session: AsyncSession,
    sandbox: CountingSandbox,
    amount: int,
    speed: str,
    fee: int,
) -> None:
    contractor = await sign_up("contractor")
    await _credit(session, contractor.id, 200_000)
    response = await client.post(
        "/api/v1/payouts", json={"amount_cents": amount, "speed": speed}, headers=contractor.headers
    )
    assert response.status_code == 201, response.text
    payout = response.json()
    assert (payout["amount_cents"], payout["fee_cents"], payout["status"]) == (amount, fee, "paid")
    entries = await session.execute(
        select(LedgerEntry.account, LedgerEntry.amount_cents).where(LedgerEntry.payout_id == payout["id"])
    )
    expected = {"contractor": -amount, "bank": amount - fee} | ({"platform": fee} if fee else {})
    assert dict(entries.all()) == expected
    assert (await _balance(client, contractor))["available_cents"] == 200_000 - amount
    assert len(sandbox.payouts) == 1
    note = await session.scalar(select(Notification).where(Notification.user_id == contractor.id))
    assert note is not None
    assert (note.kind, note.payload["payout_id"]) == ("payout.paid", payout["id"])


async def test_a_payout_beyond_the_balance_is_refused_and_writes_nothing(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, sandbox: CountingSandbox
) -> None:
    contractor = await sign_up("contractor")
    await _credit(session, contractor.id, 5_000)
    response = await client.post("/api/v1/payouts", json={"amount_cents": 5_001}, headers=contractor.headers)
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "amount_cents"
    assert "$50.00" in response.json()["detail"]
    assert await session.scalar(select(func.count()).select_from(Payout)) == 0
    assert sandbox.payouts == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount_cents": 0}, "amount_cents"),
        ({"amount_cents": -5}, "amount_cents"),
        ({"amount_cents": 100, "speed": "warp"}, "speed"),
        ({}, "amount_cents"),
        ({"amount_cents": 1, "speed": "standard"}, None),  # valid shape; see below
    ],
)
async def test_payout_input_is_validated(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, body: dict[str, Any], field: str | None
) -> None:
    contractor = await sign_up("contractor")
    response = await client.post("/api/v1/payouts", json=body, headers=contractor.headers)
    if field is None:
        assert response.status_code == 409  # nothing to pay out yet
    else:
        assert (response.status_code, response.json()["errors"][0]["field"]) == (422, field)


async def test_a_payout_repeated_with_its_key_pays_once(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, sandbox: CountingSandbox
) -> None:
    contractor = await sign_up("contractor")
    await _credit(session, contractor.id, 10_000)
    headers = contractor.headers | {"Idempotency-Key": "payout-7"}
    first = await client.post("/api/v1/payouts", json={"amount_cents": 6_000}, headers=headers)
    again = await client.post("/api/v1/payouts", json={"amount_cents": 6_000}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    other = await client.post("/api/v1/payouts", json={"amount_cents": 1_000}, headers=headers)
    assert (other.status_code, other.json()["errors"][0]["field"]) == (409, "Idempotency-Key")
    assert len(sandbox.payouts) == 1
    assert (await _balance(client, contractor))["available_cents"] == 4_000


async def test_payout_history_pages_newest_first(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    contractor = await sign_up("contractor")
    await _credit(session, contractor.id, 10_000)
    made = []
    for amount in (100, 200, 300):
        response = await client.post(
            "/api/v1/payouts", json={"amount_cents": amount}, headers=contractor.headers
        )
        made.append(response.json()["id"])
    first = (await client.get("/api/v1/payouts", params={"limit": 2}, headers=contractor.headers)).json()
    rest = await client.get(
        "/api/v1/payouts", params={"cursor": first["next_cursor"]}, headers=contractor.headers
    )
    assert [p["id"] for p in first["items"] + rest.json()["items"]] == made[::-1]
    assert rest.json()["next_cursor"] is None
    stranger = await sign_up("contractor")
    assert (await client.get("/api/v1/payouts", headers=stranger.headers)).json()["items"] == []


async def test_the_contractor_of_a_completed_job_is_paid_out(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    deal = await completed(client, sign_up)
    bid = deal.bid["amount_cents"]
    response = await client.post(
        "/api/v1/payouts", json={"amount_cents": bid, "speed": "instant"}, headers=deal.contractor.headers
    )
    assert response.status_code == 201
    assert await _balance(client, deal.contractor) == {
        "available_cents": 0,
        "pending_cents": 0,
        "held_cents": 0,
    }


async def test_two_payouts_racing_never_overdraw(
    committing_client: httpx.AsyncClient,
    committed_sign_up: SignUp,
    engine: AsyncEngine,
    sandbox: CountingSandbox,
) -> None:
    """Four payouts of $40 race for a $100 balance on separate connections: two win."""
    contractor = await committed_sign_up("contractor")
    async with AsyncSession(engine) as s:
        await _credit(s, contractor.id, 10_000)
        await s.commit()
    responses = await asyncio.gather(
        *(
            committing_client.post(
                "/api/v1/payouts", json={"amount_cents": 4_000}, headers=contractor.headers
            )
            for _ in range(4)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 201, 409, 409]
    async with AsyncSession(engine) as s:
        assert await ledger.balance(s, account=Account.CONTRACTOR, owner_id=contractor.id) == 2_000
        assert (await ledger.check(s)).ok
    assert len(sandbox.payouts) == 2


class TimesOutAfterSending(CountingSandbox):
    """The worst case: the transfer goes out, but the answer never comes back in time."""

    def __init__(self, *, sends: bool) -> None:
        super().__init__()
        self.sends = sends

    async def payout(self, *, amount_cents: int, destination: str, idempotency_key: str) -> str:
        if self.sends:
            await super().payout(
                amount_cents=amount_cents, destination=destination, idempotency_key=idempotency_key
            )
        raise ProviderUnavailable("timed out")


@pytest.mark.parametrize("sent", [True, False], ids=["the-transfer-went-out", "it-did-not"])
async def test_a_timed_out_payout_is_resolved_by_asking_never_by_paying_again(
    client: httpx.AsyncClient,
    sign_up: SignUp,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    integrations: Integrations,
    sent: bool,
) -> None:
    """The attack on the books: a payout whose call times out, then the same request again."""
    provider = TimesOutAfterSending(sends=sent)
    integrations.payments = provider
    contractor = await sign_up("contractor")
    await _credit(session, contractor.id, 50_000)
    body = {"amount_cents": 40_000, "speed": "standard"}
    first = await client.post("/api/v1/payouts", json=body, headers=contractor.headers)
    assert first.status_code == 202, first.text
    assert first.json()["status"] == "unknown"
    # The amount is held while the outcome is unknown: it cannot be paid out a second time.
    assert (await _balance(client, contractor))["available_cents"] == 10_000
    again = await client.post("/api/v1/payouts", json=body, headers=contractor.headers)
    assert again.status_code == 409
    assert provider.payouts == ([f"payout:{first.json()['id']}"] if sent else [])

    ran = await drain(database, settings, integrations, registry=Registry({RESOLVE_TASK: resolve_payout}))
    assert ran == 0  # not before its delay: the queue runs it a minute later
    await session.execute(
        text("UPDATE pgqueuer SET execute_after = now() WHERE entrypoint = :t"), {"t": RESOLVE_TASK}
    )
    assert (
        await drain(database, settings, integrations, registry=Registry({RESOLVE_TASK: resolve_payout})) == 1
    )
    payout = await session.get(Payout, first.json()["id"], populate_existing=True)
    assert payout is not None
    assert payout.status == ("paid" if sent else "failed")
    assert len(provider.payouts) == (1 if sent else 0)  # asked, never paid again
    assert (await _balance(client, contractor))["available_cents"] == (10_000 if sent else 50_000)
    assert (await ledger.check(session)).ok


async def test_earnings_wait_out_the_holding_period_before_a_payout(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, settings: Settings
) -> None:
    """The attack: get paid for a job, cash out at once, then charge the card back."""
    deal = await completed(client, sign_up)
    earned = deal.bid["amount_cents"]
    held = settings.model_copy(update={"payouts": PayoutRules(hold_days=7)})
    client._transport.app.state.settings = held  # type: ignore[attr-defined]  # the app's settings, as production configures them
    assert await _balance(client, deal.contractor) == {
        "available_cents": 0,
        "pending_cents": 0,
        "held_cents": earned,
    }
    refused = await client.post(
        "/api/v1/payouts", json={"amount_cents": earned, "speed": "standard"}, headers=deal.contractor.headers
    )
    assert refused.status_code == 409
    assert "7-day hold" in refused.json()["detail"]
    # A week later the same money is available.
    await session.execute(
        text("UPDATE ledger_entries SET created_at = now() - interval '8 days' WHERE job_id = :job"),
        {"job": deal.job["id"]},
    )
    assert (await _balance(client, deal.contractor))["available_cents"] == earned


async def test_payouts_go_only_to_the_account_the_platform_opened(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    """Stripe refuses a made-up destination; we never send one: no account, no payout."""
    contractor = await sign_up("contractor")
    await session.execute(update(User).where(User.id == contractor.id).values(payout_account=None))
    await _credit(session, contractor.id, 5_000)
    body = {"amount_cents": 1_000, "speed": "standard"}
    refused = await client.post("/api/v1/payouts", json=body, headers=contractor.headers)
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["field"] == "payout_account"
    opened = await client.post("/api/v1/payouts/account", headers=contractor.headers)
    again = await client.post("/api/v1/payouts/account", headers=contractor.headers)
    assert opened.json()["account_id"] == again.json()["account_id"]  # opened once
    assert opened.json()["onboarding_url"]
    paid = await client.post("/api/v1/payouts", json=body, headers=contractor.headers)
    assert paid.status_code == 201, paid.text
    homeowner = await sign_up()
    assert (await client.post("/api/v1/payouts/account", headers=homeowner.headers)).status_code == 403
