"""The whole marketplace journey through the HTTP API, on real PostgreSQL, ledger reconciled.

Post a job, scope it, bid, list bids, accept and pay, message, start, complete, review,
invoice extra work and pay it, pay out, and prove every cent is accounted for.
"""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.billing.ledger import check
from ftw.billing.models import Payment
from ftw.config import Settings
from tests.conftest import SignUp

JOB = {
    "title": "Replace the water heater",
    "description": "Our 50 gallon gas water heater is leaking from the bottom of the tank.",
    "trade": "plumbing",
    "zip": "60601",
}


async def test_the_marketplace_journey(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, settings: Settings
) -> None:
    homeowner = await sign_up("homeowner", zip="60601")
    contractor, rival = await sign_up("contractor", zip="60601"), await sign_up("contractor", zip="60614")
    operator = await sign_up("operator")
    claimed = await client.post("/api/v1/territories/17031/claim", headers=operator.headers)  # Cook County
    assert claimed.status_code == 200, claimed.text

    # The homeowner scopes the job, then posts it.
    scope = await client.post(
        "/api/v1/scope",
        json={k: JOB[k] for k in ("title", "description", "trade", "zip")},
        headers=homeowner.headers,
    )
    assert scope.status_code == 200, scope.text
    posted = await client.post("/api/v1/jobs", json=JOB, headers=homeowner.headers)
    assert posted.status_code == 201, posted.text
    job = posted.json()
    assert job["territory_fips"] == "17031"
    assert job["estimate"]["price_high_cents"] == scope.json()["price_high_cents"]

    # Two contractors bid; each sees only its own bid, the homeowner both, cheapest first.
    low = job["estimate"]["price_low_cents"]
    bids = {}
    for who, amount in ((contractor, low + 5_000), (rival, low + 9_000)):
        placed = await client.post(
            f"/api/v1/jobs/{job['id']}/bids",
            json={"amount_cents": amount, "message": "Licensed and insured; can start Monday."},
            headers=who.headers,
        )
        assert placed.status_code == 201, placed.text
        bids[who.id] = placed.json()
    mine = await client.get(f"/api/v1/jobs/{job['id']}/bids", headers=rival.headers)
    assert [b["id"] for b in mine.json()["items"]] == [bids[rival.id]["id"]]
    listed = await client.get(f"/api/v1/jobs/{job['id']}/bids", headers=homeowner.headers)
    assert [b["id"] for b in listed.json()["items"]] == [bids[contractor.id]["id"], bids[rival.id]["id"]]

    # They talk before the award.
    asked = await client.post(
        f"/api/v1/jobs/{job['id']}/messages",
        json={"body": "Can you haul the old heater away?", "contractor_id": contractor.id},
        headers=homeowner.headers,
    )
    assert asked.status_code == 201, asked.text
    answered = await client.post(
        f"/api/v1/jobs/{job['id']}/messages", json={"body": "Yes, included."}, headers=contractor.headers
    )
    assert answered.status_code == 201, answered.text

    # Accept and pay: bid + $20 held in escrow; the rival is rejected.
    bid = bids[contractor.id]
    accepted = await client.post(
        f"/api/v1/bids/{bid['id']}/accept", json={"payment_method": "pm_card_visa"}, headers=homeowner.headers
    )
    assert accepted.status_code == 200, accepted.text
    fee = settings.fees.homeowner_platform_fee_cents
    assert accepted.json()["payment"]["amount_cents"] == bid["amount_cents"] + fee
    balance = (await client.get("/api/v1/balance", headers=contractor.headers)).json()
    assert balance == {"available_cents": 0, "pending_cents": bid["amount_cents"], "held_cents": 0}

    # The work: started by the contractor, completed by the homeowner, then reviewed.
    assert (
        await client.post(f"/api/v1/jobs/{job['id']}/start", headers=contractor.headers)
    ).status_code == 200
    done = await client.post(f"/api/v1/jobs/{job['id']}/complete", headers=homeowner.headers)
    assert done.json()["status"] == "completed"
    reviewed = await client.post(
        f"/api/v1/jobs/{job['id']}/review",
        json={"rating": 5, "body": "On time, tidy, and fairly priced."},
        headers=homeowner.headers,
    )
    assert reviewed.status_code == 201, reviewed.text

    # Extra work, invoiced with tax and paid in two parts.
    created = await client.post(
        "/api/v1/invoices",
        json={
            "job_id": job["id"],
            "lines": [{"description": "Expansion tank", "quantity": 1, "unit_cents": 18_000}],
            "tax_rate_bps": 1_025,
        },
        headers=contractor.headers,
    )
    assert created.status_code == 201, created.text
    invoice = created.json()
    sent = await client.post(f"/api/v1/invoices/{invoice['id']}/send", headers=contractor.headers)
    assert sent.json()["status"] == "sent"
    seen = await client.get(f"/api/v1/invoices/{invoice['id']}", headers=homeowner.headers)
    assert seen.json()["status"] == "viewed"
    total = seen.json()["total_cents"]
    assert total == 18_000 + 1_845
    for amount in (10_000, total - 10_000):
        paid = await client.post(
            f"/api/v1/invoices/{invoice['id']}/pay", json={"amount_cents": amount}, headers=homeowner.headers
        )
        assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "paid"

    # Balances: the contractor has the bid and the invoice; the operator 10 % of the fee.
    earned = bid["amount_cents"] + total
    assert (await client.get("/api/v1/balance", headers=contractor.headers)).json()[
        "available_cents"
    ] == earned
    assert (await client.get("/api/v1/balance", headers=operator.headers)).json()["available_cents"] == 200

    # The contractor pays out instantly (1 %, at most $5); the operator by standard transfer.
    payout = await client.post(
        "/api/v1/payouts",
        json={"amount_cents": earned, "speed": "instant"},
        headers=contractor.headers | {"Idempotency-Key": "journey-payout"},
    )
    assert payout.status_code == 201, payout.text
    assert payout.json()["fee_cents"] == min(earned // 100, settings.fees.instant_payout_cap_cents)
    assert (
        await client.post("/api/v1/payouts", json={"amount_cents": 200}, headers=operator.headers)
    ).status_code == 201
    assert (await client.get("/api/v1/balance", headers=contractor.headers)).json()["available_cents"] == 0

    # Every cent is accounted for: three card charges captured once each, ledger reconciled.
    charges = list(await session.scalars(select(Payment.status).where(Payment.payer_id == homeowner.id)))
    assert charges == ["succeeded"] * 3
    report = await check(session)
    assert report.ok, report.lines
