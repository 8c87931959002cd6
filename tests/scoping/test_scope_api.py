"""POST /api/v1/scope: an estimate without posting a job."""

from __future__ import annotations

import httpx

from tests.conftest import SignUp

SCOPE = {
    "title": "Replace water heater",
    "description": "Our 50 gallon gas water heater is leaking from the tank.",
    "trade": "plumbing",
}


async def test_scope_prices_by_the_zip_region(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    account = await sign_up()
    in_sf = await client.post("/api/v1/scope", json=SCOPE | {"zip": "94103"}, headers=account.headers)
    in_ms = await client.post("/api/v1/scope", json=SCOPE | {"zip": "39201"}, headers=account.headers)
    assert in_sf.status_code == in_ms.status_code == 200
    assert in_sf.json()["price_high_cents"] > in_ms.json()["price_high_cents"]
    assert in_sf.json()["degraded"] is False
    assert in_sf.json()["rationale"]


async def test_scope_without_a_place_is_less_confident(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    account = await sign_up()
    placed = await client.post("/api/v1/scope", json=SCOPE | {"state": "tx"}, headers=account.headers)
    anywhere = await client.post("/api/v1/scope", json=SCOPE, headers=account.headers)
    assert anywhere.json()["confidence"] < placed.json()["confidence"]


async def test_scope_input_errors(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    account = await sign_up()
    assert (await client.post("/api/v1/scope", json=SCOPE)).status_code == 401
    unknown = await client.post("/api/v1/scope", json=SCOPE | {"zip": "00000"}, headers=account.headers)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "zip"
    both = await client.post(
        "/api/v1/scope", json=SCOPE | {"zip": "10001", "state": "NY"}, headers=account.headers
    )
    assert both.status_code == 422
