"""Invoices: creation and numbering, the status machine, paying in parts, reminders, late fee."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.billing import invoices
from ftw.billing.models import Invoice, InvoiceReminder, LedgerEntry, Payment
from ftw.billing.tasks import TASKS
from ftw.config import Settings
from ftw.core.db import Database
from ftw.crm.models import Customer
from ftw.integrations import Integrations
from ftw.integrations.context import TaskContext
from ftw.messaging.models import Notification
from tests.conftest import SignUp
from tests.support.market import CountingSandbox, Market, awarded, market

LINES = [
    {"description": "Replace shut-off valve", "quantity": 2, "unit_cents": 5_000},
    {"description": "Labour, one hour", "quantity": 1, "unit_cents": 2_500},
]


async def _create(client: httpx.AsyncClient, deal: Market, **overrides: Any) -> dict[str, Any]:
    body = {"job_id": deal.job["id"], "lines": LINES, "tax_rate_bps": 825} | overrides
    response = await client.post("/api/v1/invoices", json=body, headers=deal.contractor.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _sent(client: httpx.AsyncClient, deal: Market, **overrides: Any) -> dict[str, Any]:
    invoice = await _create(client, deal, **overrides)
    response = await client.post(f"/api/v1/invoices/{invoice['id']}/send", headers=deal.contractor.headers)
    assert response.status_code == 200, response.text
    sent: dict[str, Any] = response.json()
    return sent


async def _pay(
    client: httpx.AsyncClient, deal: Market, invoice: dict[str, Any], amount: int, **extra: Any
) -> httpx.Response:
    headers = deal.homeowner.headers | extra.pop("headers", {})
    return await client.post(
        f"/api/v1/invoices/{invoice['id']}/pay", json={"amount_cents": amount, **extra}, headers=headers
    )


async def _kinds(session: AsyncSession, user_id: int) -> list[str]:
    query = select(Notification.kind).where(Notification.user_id == user_id).order_by(Notification.id)
    return list(await session.scalars(query))


async def test_the_winning_contractor_drafts_a_numbered_invoice_with_tax(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    deal = await awarded(client, sign_up)
    invoice = await _create(client, deal)
    assert invoice["number"] == "INV-000001"
    assert invoice["status"] == "draft"
    assert (invoice["subtotal_cents"], invoice["tax_cents"], invoice["total_cents"]) == (
        12_500,
        1_031,
        13_531,
    )
    assert invoice["balance_due_cents"] == 13_531
    assert invoice["homeowner_id"] == deal.homeowner.id
    assert [line["amount_cents"] for line in invoice["lines"]] == [10_000, 2_500]
    assert (await _create(client, deal, tax_rate_bps=0))["number"] == "INV-000002"


async def test_only_the_winning_contractor_invoices_a_job(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    deal = await market(client, sign_up)  # not awarded yet
    body = {"job_id": deal.job["id"], "lines": LINES}
    not_won = await client.post("/api/v1/invoices", json=body, headers=deal.contractor.headers)
    assert (not_won.status_code, not_won.json()["errors"][0]["field"]) == (403, "job_id")
    assert (
        await client.post("/api/v1/invoices", json=body, headers=deal.homeowner.headers)
    ).status_code == 403
    assert (await client.post("/api/v1/invoices", json=body)).status_code == 401
    missing = await client.post(
        "/api/v1/invoices", json=body | {"job_id": 999_999_999}, headers=deal.contractor.headers
    )
    assert missing.status_code == 404
    assert await session.scalar(select(func.count()).select_from(Invoice)) == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"lines": []}, "lines"),
        ({"lines": [{"description": "Free", "quantity": 1, "unit_cents": 0}]}, "lines"),
        ({"lines": [{"description": "x", "quantity": 0, "unit_cents": 100}]}, "lines.0.quantity"),
        ({"lines": [{"description": " ", "quantity": 1, "unit_cents": 100}]}, "lines.0.description"),
        ({"lines": [{"description": "x", "quantity": 1, "unit_cents": -1}]}, "lines.0.unit_cents"),
        ({"lines": [{"description": "x", "quantity": 10_000, "unit_cents": 100_000_000}]}, "lines"),
        ({"tax_rate_bps": 10_001}, "tax_rate_bps"),
        ({"job_id": "abc"}, "job_id"),
    ],
)
async def test_bad_invoices_name_the_field_and_write_nothing(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, overrides: dict[str, Any], field: str
) -> None:
    deal = await awarded(client, sign_up)
    body = {"job_id": deal.job["id"], "lines": LINES} | overrides
    response = await client.post("/api/v1/invoices", json=body, headers=deal.contractor.headers)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]
    assert await session.scalar(select(func.count()).select_from(Invoice)) == 0


async def test_a_draft_is_hidden_from_the_homeowner_until_sent(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    deal = await awarded(client, sign_up)
    draft = await _create(client, deal)
    path = f"/api/v1/invoices/{draft['id']}"
    assert (await client.get(path, headers=deal.homeowner.headers)).status_code == 404
    assert (await client.get("/api/v1/invoices", headers=deal.homeowner.headers)).json()["items"] == []
    assert (await _pay(client, deal, draft, 100)).status_code == 404

    sent = await client.post(f"{path}/send", headers=deal.contractor.headers)
    assert sent.json()["status"] == "sent"
    due = datetime.fromisoformat(sent.json()["due_at"]) - datetime.now(UTC)
    assert timedelta(days=13, hours=23) < due <= timedelta(days=14)
    assert "invoice.sent" in await _kinds(session, deal.homeowner.id)

    assert (await client.get(path, headers=deal.contractor.headers)).json()["status"] == "sent"
    viewed = await client.get(path, headers=deal.homeowner.headers)
    assert viewed.json()["status"] == "viewed"
    assert viewed.json()["viewed_at"] is not None
    assert (await client.get(path, headers=(await sign_up()).headers)).status_code == 403
    assert (await client.get(path, headers=(await sign_up("contractor")).headers)).status_code == 403
    assert (await client.get("/api/v1/invoices/999999999", headers=deal.homeowner.headers)).status_code == 404


async def test_sending_takes_a_future_due_date_once(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    deal = await awarded(client, sign_up)
    invoice = await _create(client, deal)
    path = f"/api/v1/invoices/{invoice['id']}/send"
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    refused = await client.post(path, json={"due_at": past}, headers=deal.contractor.headers)
    assert (refused.status_code, refused.json()["errors"][0]["field"]) == (422, "due_at")
    naive = await client.post(path, json={"due_at": "2031-01-01T00:00:00"}, headers=deal.contractor.headers)
    assert (naive.status_code, naive.json()["errors"][0]["field"]) == (422, "due_at")
    assert (await client.post(path, headers=deal.homeowner.headers)).status_code == 403
    due = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    sent = await client.post(path, json={"due_at": due.isoformat()}, headers=deal.contractor.headers)
    assert datetime.fromisoformat(sent.json()["due_at"]) == due
    assert (await client.post(path, headers=deal.contractor.headers)).status_code == 409


async def test_the_homeowner_pays_in_parts_until_paid(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, sandbox: CountingSandbox
) -> None:
    deal = await awarded(client, sign_up)
    invoice = await _sent(client, deal)
    total = invoice["total_cents"]
    part = await _pay(client, deal, invoice, 5_000)
    assert part.status_code == 200, part.text
    assert (part.json()["status"], part.json()["paid_cents"]) == ("partially_paid", 5_000)
    too_much = await _pay(client, deal, invoice, total)
    assert (too_much.status_code, too_much.json()["errors"][0]["field"]) == (422, "amount_cents")
    rest = await _pay(client, deal, invoice, total - 5_000)
    body = rest.json()
    assert (body["status"], body["paid_cents"], body["balance_due_cents"]) == ("paid", total, 0)
    assert body["paid_at"] is not None
    assert (await _pay(client, deal, invoice, 1)).status_code == 409

    credited = await session.scalar(
        select(func.sum(LedgerEntry.amount_cents)).where(
            LedgerEntry.kind == "invoice_payment", LedgerEntry.account == "contractor"
        )
    )
    assert credited == total
    customer = await session.scalar(select(Customer).where(Customer.contractor_id == deal.contractor.id))
    assert customer is not None
    await session.refresh(customer)
    assert customer.lifetime_value_cents == total
    assert [c.amount_cents for c in sandbox.charges][1:] == [5_000, total - 5_000]


async def test_only_the_addressed_homeowner_pays(
    client: httpx.AsyncClient, sign_up: SignUp, sandbox: CountingSandbox
) -> None:
    deal = await awarded(client, sign_up)
    invoice = await _sent(client, deal)
    path = f"/api/v1/invoices/{invoice['id']}/pay"
    assert (
        await client.post(path, json={"amount_cents": 100}, headers=(await sign_up()).headers)
    ).status_code == 403
    assert (
        await client.post(path, json={"amount_cents": 100}, headers=deal.contractor.headers)
    ).status_code == 403
    assert (await client.post(path, json={"amount_cents": 100})).status_code == 401
    zero = await client.post(path, json={"amount_cents": 0}, headers=deal.homeowner.headers)
    assert (zero.status_code, zero.json()["errors"][0]["field"]) == (422, "amount_cents")
    assert len(sandbox.charges) == 1  # the award only


async def test_a_declined_invoice_payment_changes_nothing_but_its_record(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    deal = await awarded(client, sign_up)
    invoice = await _sent(client, deal)
    declined = await _pay(client, deal, invoice, 1_000, payment_method="pm_card_declined")
    assert declined.status_code == 402
    failed = await session.scalar(select(Payment).where(Payment.invoice_id == invoice["id"]))
    assert failed is not None
    assert failed.status == "failed"
    stored = await session.get(Invoice, invoice["id"])
    assert stored is not None
    await session.refresh(stored)
    assert (stored.status, stored.paid_cents) == ("sent", 0)
    assert (await _pay(client, deal, invoice, 1_000)).status_code == 200


async def test_an_invoice_payment_repeated_with_its_key_charges_once(
    client: httpx.AsyncClient, sign_up: SignUp, sandbox: CountingSandbox
) -> None:
    deal = await awarded(client, sign_up)
    invoice = await _sent(client, deal)
    key = {"Idempotency-Key": "inv-pay-1"}
    first = await _pay(client, deal, invoice, 2_000, headers=key)
    again = await _pay(client, deal, invoice, 2_000, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.json()["paid_cents"] == 2_000
    assert len(sandbox.charges) == 2  # the award and this payment


async def test_cancelling(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    deal = await awarded(client, sign_up)
    draft, sent = await _create(client, deal), await _sent(client, deal)
    assert (
        await client.post(f"/api/v1/invoices/{draft['id']}/cancel", headers=deal.homeowner.headers)
    ).status_code == 403
    cancelled = await client.post(f"/api/v1/invoices/{draft['id']}/cancel", headers=deal.contractor.headers)
    assert cancelled.json()["status"] == "cancelled"
    assert (
        await client.post(f"/api/v1/invoices/{draft['id']}/send", headers=deal.contractor.headers)
    ).status_code == 409
    await _pay(client, deal, sent, 100)
    paid_in_part = await client.post(f"/api/v1/invoices/{sent['id']}/cancel", headers=deal.contractor.headers)
    assert paid_in_part.status_code == 409


async def test_lists_by_party_and_status(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    deal = await awarded(client, sign_up)
    draft = await _create(client, deal)
    sent = [await _sent(client, deal) for _ in range(2)]
    mine = await client.get("/api/v1/invoices", params={"limit": 2}, headers=deal.contractor.headers)
    first = mine.json()
    rest = await client.get(
        "/api/v1/invoices", params={"cursor": first["next_cursor"]}, headers=deal.contractor.headers
    )
    assert [i["id"] for i in first["items"] + rest.json()["items"]] == [
        sent[1]["id"],
        sent[0]["id"],
        draft["id"],
    ]
    drafts = await client.get("/api/v1/invoices", params={"status": "draft"}, headers=deal.contractor.headers)
    assert [i["id"] for i in drafts.json()["items"]] == [draft["id"]]
    theirs = await client.get("/api/v1/invoices", headers=deal.homeowner.headers)
    assert {i["id"] for i in theirs.json()["items"]} == {s["id"] for s in sent}
    operator = await sign_up("operator")
    assert (await client.get("/api/v1/invoices", headers=operator.headers)).status_code == 403
    assert (
        await client.get("/api/v1/invoices", params={"status": "lost"}, headers=deal.homeowner.headers)
    ).status_code == 422


async def _overdue_by(session: AsyncSession, invoice_id: int, days: float) -> None:
    await session.execute(
        update(Invoice).where(Invoice.id == invoice_id).values(due_at=func.now() - timedelta(days=days))
    )


async def test_reminders_mark_overdue_and_remind_once_per_threshold(
    client: httpx.AsyncClient,
    sign_up: SignUp,
    session: AsyncSession,
    settings: Settings,
    database: Database,
    integrations: Integrations,
) -> None:
    deal = await awarded(client, sign_up)
    invoice = await _sent(client, deal)
    remind = TASKS["billing.invoice_reminders"]
    context = TaskContext(db=database, settings=settings, integrations=integrations)

    await remind(context, {})
    assert (await session.get_one(Invoice, invoice["id"])).status == "sent"  # not due yet

    await _overdue_by(session, invoice["id"], 1.5)
    await remind(context, {})
    stored = await session.get(Invoice, invoice["id"])
    assert stored is not None
    await session.refresh(stored)
    assert stored.status == "overdue"
    assert "invoice.reminder" not in await _kinds(session, deal.homeowner.id)  # before day 3

    await _overdue_by(session, invoice["id"], 8.2)
    await remind(context, {})
    await remind(context, {})  # run twice: nothing more
    reminders = await session.scalars(
        select(InvoiceReminder.days_overdue).where(InvoiceReminder.invoice_id == invoice["id"])
    )
    assert sorted(reminders) == [3, 7]
    notes = list(
        await session.scalars(
            select(Notification).where(
                Notification.user_id == deal.homeowner.id, Notification.kind == "invoice.reminder"
            )
        )
    )
    assert [n.payload["days_overdue"] for n in notes] == [7]  # one reminder, the latest threshold

    part = await _pay(client, deal, invoice, 3_531)
    assert part.json()["status"] == "overdue"  # still overdue after a partial payment


async def test_the_late_fee_is_applied_once_at_thirty_days(
    client: httpx.AsyncClient,
    sign_up: SignUp,
    session: AsyncSession,
    settings: Settings,
    database: Database,
    integrations: Integrations,
) -> None:
    deal = await awarded(client, sign_up)
    invoice = await _sent(client, deal)
    await _pay(client, deal, invoice, 3_531)  # 10,000 left
    await _overdue_by(session, invoice["id"], 31)
    context = TaskContext(db=database, settings=settings, integrations=integrations)
    for _ in range(2):
        await TASKS["billing.invoice_reminders"](context, {})
    stored = await session.get(Invoice, invoice["id"])
    assert stored is not None
    await session.refresh(stored)
    assert stored.late_fee_cents == 150  # 1.5 % of the 10,000 unpaid
    assert stored.total_cents == invoice["total_cents"] + 150
    viewed = (await client.get(f"/api/v1/invoices/{invoice['id']}", headers=deal.homeowner.headers)).json()
    assert viewed["balance_due_cents"] == 10_150
    assert (await _pay(client, deal, invoice, 10_150)).json()["status"] == "paid"


async def test_reminders_run_in_batches(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, settings: Settings
) -> None:
    deal = await awarded(client, sign_up)
    sent = [await _sent(client, deal) for _ in range(3)]
    for invoice in sent:
        await _overdue_by(session, invoice["id"], 4)
    now = datetime.now(UTC)
    first = await invoices.remind(session=session, settings=settings, now=now, after_id=0, limit=2)
    assert first is not None
    assert first == sent[1]["id"]
    assert await invoices.remind(session=session, settings=settings, now=now, after_id=first, limit=2) is None
    statuses = await session.scalars(select(Invoice.status).where(Invoice.id.in_([i["id"] for i in sent])))
    assert set(statuses) == {"overdue"}
