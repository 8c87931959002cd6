"""Fake vendor servers and settings with small breaker thresholds, so tests stay fast."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ftw.config import Breaker, Breakers, Settings
from ftw.core.breakers import BreakerBoard
from tests.integrations.fake_vendor import FakeVendor

# Opens after 3 failures, probes after 0.2 s, gives up on a call after 1 s (a healthy call on
# a busy CI machine, two test workers on two cores, must never reach it).
QUICK = Breaker(failures=3, call_timeout_s=1.0, reset_timeout_s=0.2)
# A hung vendor call must come back by then (a fake vendor's hang lasts until the test ends).
CUT_OFF_S = QUICK.call_timeout_s + 2.0


def with_quick_breakers(settings: Settings) -> Settings:
    """`settings` with every vendor's breaker on the QUICK policy."""
    return settings.model_copy(update={"breakers": Breakers(**dict.fromkeys(Breakers.model_fields, QUICK))})


@pytest.fixture
def quick_settings(settings: Settings) -> Settings:
    return with_quick_breakers(settings)


@pytest.fixture
def board(quick_settings: Settings) -> BreakerBoard:
    return BreakerBoard(quick_settings.breakers)


_ids = itertools.count(1)
_transfers: list[dict[str, Any]] = []  # every transfer made, as Stripe lists them
_intents: list[dict[str, Any]] = []  # every payment intent made, as Stripe searches them


def stripe_api(method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Just enough of Stripe's API: payment intents (declining pm_card_declined), refunds,
    transfers (made, and listed by transfer group)."""
    n = next(_ids)
    if path == "/v1/accounts":
        return 200, {"id": f"acct_{n}", "object": "account", "email": body.get("email")}
    if path == "/v1/account_links":
        return 200, {"object": "account_link", "url": f"https://connect.example/setup/{body['account']}"}
    if path == "/v1/payment_intents/search":
        found = [i for i in _intents if f"metadata['ftw_key']:'{i['metadata']['ftw_key']}'" in body["query"]]
        return 200, {"object": "search_result", "data": found[:1], "has_more": False, "url": path}
    if path == "/v1/payment_intents":
        if body.get("payment_method") == "pm_card_declined":
            error = {"type": "card_error", "code": "card_declined", "message": "Your card was declined."}
            return 402, {"error": error}
        amount = int(body["amount"])
        intent = {
            "id": f"pi_{n}",
            "object": "payment_intent",
            "amount": amount,
            "status": "succeeded",
            "metadata": {"ftw_key": body.get("metadata[ftw_key]", "")},
        }
        _intents.append(intent)
        return 200, intent
    if path == "/v1/refunds":
        return 200, {
            "id": f"re_{n}",
            "object": "refund",
            "amount": int(body["amount"]),
            "status": "succeeded",
        }
    if path == "/v1/transfers" and method == "GET":
        found = [t for t in _transfers if t["transfer_group"] == body.get("transfer_group")]
        return 200, {"object": "list", "data": found[:1], "has_more": False, "url": "/v1/transfers"}
    if path == "/v1/transfers":
        transfer = {
            "id": f"tr_{n}",
            "object": "transfer",
            "amount": int(body["amount"]),
            "transfer_group": body.get("transfer_group"),
        }
        _transfers.append(transfer)
        return 200, transfer
    return 404, {"error": {"type": "invalid_request_error", "message": f"no route {path}"}}


@pytest.fixture
async def stripe_server() -> AsyncIterator[FakeVendor]:
    server = await FakeVendor(stripe_api).start()
    yield server
    await server.stop()
