"""Invoices in the browser: a contractor writes one with line items for a job it won and
sends it; the homeowner it is addressed to opens it and pays it, all or part, with the same
service and payment path as ``POST /api/v1/invoices/{id}/pay``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from ftw.bids import service as bids
from ftw.bids.models import BidStatus
from ftw.billing import invoices
from ftw.billing.models import PAYABLE
from ftw.billing.schemas import InvoiceCreate, InvoiceLineIn, InvoicePay, InvoiceSend
from ftw.core.errors import DomainError
from ftw.core.validation import Id
from ftw.jobs import service as jobs
from ftw.web.forms import FormInvalid, card_method, cents, new_request_key, parse, refusal, request_key
from ftw.web.page import ContractorPage, Cursor, HomeownerPage, Page, PartyPage

router = APIRouter(include_in_schema=False)

LINE_ROWS = 5  # blank rows of the new-invoice form; a blank row is skipped
LINE_FIELDS = ("description", "quantity", "price")
WON_JOBS = 50  # the newest jobs a contractor won, to invoice one of


@router.get("/invoices")
async def invoice_list(page: PartyPage, cursor: Cursor = "") -> Response:
    """A contractor's own invoices, or those sent to a homeowner, newest first."""
    async with page.reading() as s:
        listed, next_cursor = await invoices.browse(
            session=s, principal=page.user, status=None, page=page.rows(cursor)
        )
        titles = await jobs.titles(session=s, job_ids=sorted({i.job_id for i in listed}))
    more = page.more(next_cursor)
    return page.render("invoices.html", invoices=listed, titles=titles, more=more)


@router.get("/invoices/new")
async def new_invoice(page: ContractorPage, job: Annotated[str, Query(max_length=20)] = "") -> Response:
    return await _new_page(page, values={"job": job, "line1_quantity": "1"})


async def _new_page(
    page: Page, *, values: dict[str, str], errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    async with page.reading() as s:
        won, _ = await bids.of_contractor(
            session=s,
            contractor_id=page.user.user_id,
            status=BidStatus.ACCEPTED,
            page=page.rows(limit=WON_JOBS),
        )
        titles = await jobs.titles(session=s, job_ids=[b.job_id for b in won])
    options = [(str(b.job_id), titles.get(b.job_id, f"Job {b.job_id}")) for b in won]
    return page.render(
        "invoice_new.html", status=status, jobs=options, rows=LINE_ROWS, values=values, errors=errors or {}
    )


def _line(page: Page, row: int, values: dict[str, str]) -> InvoiceLineIn | None:
    """Row ``row`` of the form as a line item (None when left blank)."""
    typed = {name: page.field(f"line{row}_{name}").strip() for name in LINE_FIELDS}
    values.update({f"line{row}_{name}": value for name, value in typed.items()})
    if not any(typed.values()):
        return None
    price = cents(typed["price"], f"line{row}_price")
    asked = {"description": typed["description"], "quantity": typed["quantity"] or "1", "unit_cents": price}
    return parse(InvoiceLineIn, asked, rename={f: f"line{row}_{f}" for f in ("description", "quantity")})


def _tax_bps(typed: str) -> int:
    """A tax rate typed in percent ("8.25") in basis points."""
    try:
        rate = Decimal(typed.replace("%", "").strip() or "0") * 100
    except InvalidOperation:
        rate = Decimal("NaN")
    if not rate.is_finite() or rate != rate.to_integral_value():
        raise FormInvalid({"tax": "Enter a tax rate in percent, like 8.25 (or leave it empty)"})
    return int(rate)


@router.post("/invoices")
async def create_invoice(page: ContractorPage) -> Response:
    await page.limit(tier=False, endpoint="post_invoice")
    values = {name: page.field(name).strip() for name in ("job", "tax", "notes")}
    errors: dict[str, str] = {}
    lines = []
    for row in range(1, LINE_ROWS + 1):
        try:
            if (line := _line(page, row, values)) is not None:
                lines.append(line)
        except FormInvalid as exc:
            errors |= exc.errors
    if not lines and not errors:
        errors["line1_description"] = "Add at least one line: the work done or what was supplied"
    try:
        tax = _tax_bps(values["tax"])
        if errors:
            raise FormInvalid(errors)
        asked: dict[str, Any] = {"job_id": values["job"], "lines": lines, "tax_rate_bps": tax}
        data = parse(
            InvoiceCreate,
            asked | ({"notes": values["notes"]} if values["notes"] else {}),
            rename={"job_id": "job", "tax_rate_bps": "tax", "lines": "form"},
        )
        async with page.writing() as s:
            invoice = await invoices.create(session=s, settings=page.settings, principal=page.user, data=data)
    except FormInvalid as exc:
        return await _new_page(page, values=values, errors=errors | exc.errors, status=422)
    except DomainError as exc:
        if exc.status in (401, 404):
            raise
        errors = refusal(exc, rename={"job_id": "job"}).errors
        return await _new_page(page, values=values, errors=errors, status=exc.status)
    return page.redirect(f"/invoices/{invoice.id}?done=created")


NOTICES = {
    "created": "Draft saved. Check it, then send it to the homeowner.",
    "sent": "Sent: the homeowner is notified.",
    "paid": "Payment received. Thank you.",
    "cancelled": "This invoice is cancelled.",
}


@router.get("/invoices/{invoice_id}")
async def invoice_page(page: PartyPage, invoice_id: Id, done: str = "") -> Response:
    return await _invoice_page(page, invoice_id, notice=NOTICES.get(done, ""))


async def _invoice_page(
    page: Page,
    invoice_id: int,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    notice: str = "",
) -> Response:
    # A write session: the homeowner opening a sent invoice marks it viewed, as the API does.
    async with page.writing() as s:
        invoice = await invoices.present(
            s, await invoices.view(session=s, principal=page.user, invoice_id=invoice_id)
        )
        title = (await jobs.titles(session=s, job_ids=[invoice.job_id])).get(invoice.job_id, "")
    homeowner = page.user.user_id == invoice.homeowner_id
    due = f"{invoice.balance_due_cents / 100:.2f}"
    return page.render(
        "invoice.html",
        status=status,
        invoice=invoice,
        title=title,
        homeowner=homeowner,
        payable=homeowner and invoice.status in PAYABLE,
        key=new_request_key(),  # a new one per showing: a declined card may be retried
        values={"amount": due} | (values or {}),
        errors=errors or {},
        notice=notice,
    )


def _due(typed: str) -> datetime | None:
    """The due date as typed (a date input: 2026-12-31), at the end of that day UTC."""
    if not typed:
        return None
    try:
        return datetime.combine(date.fromisoformat(typed), time(23, 59), UTC)
    except ValueError:
        raise FormInvalid({"due": "Enter a date, like 2026-12-31"}) from None


@router.post("/invoices/{invoice_id}/send")
async def send_invoice(page: ContractorPage, invoice_id: Id) -> Response:
    values = {"due": page.field("due").strip()}
    try:
        data = InvoiceSend(due_at=_due(values["due"]))
        async with page.writing() as s:
            await invoices.send(session=s, principal=page.user, invoice_id=invoice_id, due_at=data.due_at)
    except FormInvalid as exc:
        return await _invoice_page(page, invoice_id, values=values, errors=exc.errors, status=422)
    except DomainError as exc:
        if exc.status in (401, 403, 404):
            raise
        errors = refusal(exc, rename={"due_at": "due"}).errors
        return await _invoice_page(page, invoice_id, values=values, errors=errors, status=exc.status)
    return page.redirect(f"/invoices/{invoice_id}?done=sent")


@router.post("/invoices/{invoice_id}/cancel")
async def cancel_invoice(page: ContractorPage, invoice_id: Id) -> Response:
    try:
        async with page.writing() as s:
            await invoices.cancel(session=s, principal=page.user, invoice_id=invoice_id)
    except DomainError as exc:
        if exc.status in (401, 403, 404):
            raise
        return await _invoice_page(page, invoice_id, errors=refusal(exc).errors, status=exc.status)
    return page.redirect(f"/invoices/{invoice_id}?done=cancelled")


@router.post("/invoices/{invoice_id}/pay")
async def pay_invoice(page: HomeownerPage, invoice_id: Id) -> Response:
    """Pay all or part of what is due. The form's request key is the API's Idempotency-Key:
    the same form sent twice pays once."""
    values = {"amount": page.field("amount").strip(), "card": page.field("card").strip()}
    rename = {"amount_cents": "amount", "payment_method": "card"}
    try:
        asked = {"amount_cents": cents(values["amount"]), "payment_method": card_method(values["card"])}
        data = parse(InvoicePay, asked, rename=rename)
        async with page.writing() as s:
            await invoices.pay(
                session=s, settings=page.settings, payments=page.request.app.state.integrations.payments,
                principal=page.user, invoice_id=invoice_id, amount_cents=data.amount_cents,
                payment_method=data.payment_method, client_key=request_key(page.field("key")),
            )  # fmt: skip
    except FormInvalid as exc:
        return await _invoice_page(page, invoice_id, values=values, errors=exc.errors, status=422)
    except DomainError as exc:
        if exc.status in (401, 403, 404):
            raise
        errors = refusal(exc, rename=rename).errors
        return await _invoice_page(page, invoice_id, values=values, errors=errors, status=exc.status)
    return page.redirect(f"/invoices/{invoice_id}?done=paid")
