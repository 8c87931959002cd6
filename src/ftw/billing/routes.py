"""HTTP layer of billing: payments, balances, payouts and invoices."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from ftw.accounts.auth import Contractor, Homeowner, Principal, SignedIn, require
from ftw.accounts.models import Role
from ftw.billing import invoices, payouts
from ftw.billing import payments as charging
from ftw.billing.models import InvoiceStatus, PayoutSpeed, PayoutStatus
from ftw.billing.schemas import (
    BalanceOut,
    IdempotencyKey,
    InvoiceCreate,
    InvoiceOut,
    InvoicePage,
    InvoicePay,
    InvoiceSend,
    PaymentOut,
    PayoutAccountOut,
    PayoutCreate,
    PayoutOut,
    PayoutPage,
)
from ftw.core import ratelimit, switches
from ftw.core.deps import OwnReadSessionDep, SessionDep, SettingsDep
from ftw.core.errors import PROBLEM_JSON
from ftw.core.pagination import PageDep
from ftw.core.routing import LeanRoute
from ftw.core.switches import Name
from ftw.core.validation import Id
from ftw.integrations.deps import IntegrationsDep

router = APIRouter(prefix="/api/v1", tags=["billing"], route_class=LeanRoute)

Earner = Annotated[Principal, Depends(require(Role.CONTRACTOR, Role.OPERATOR))]
InvoiceParty = Annotated[Principal, Depends(require(Role.CONTRACTOR, Role.HOMEOWNER))]
PAYMENT_PROBLEMS: dict[int | str, dict[str, Any]] = {
    402: {"description": "The card was declined", "content": {PROBLEM_JSON: {}}},
    503: {"description": "The payments provider is down; nothing was charged", "content": {PROBLEM_JSON: {}}},
}


@router.get("/payments/{payment_id}")
async def payment(payment_id: Id, session: OwnReadSessionDep, principal: SignedIn) -> PaymentOut:
    """One of the caller's payments: how a pending award charge ends."""
    found = await charging.get_own(session=session, principal=principal, payment_id=payment_id)
    return PaymentOut.model_validate(found)


@router.get("/balance")
async def balance(session: OwnReadSessionDep, settings: SettingsDep, principal: Earner) -> BalanceOut:
    """A contractor's or operator's balance: available for payout, and still held in escrow."""
    return await payouts.balance(session=session, settings=settings, principal=principal)


@router.post("/payouts", status_code=status.HTTP_201_CREATED, responses={503: PAYMENT_PROBLEMS[503]})
async def request_payout(
    data: PayoutCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    integrations: IntegrationsDep,
    principal: Earner,
    idempotency_key: IdempotencyKey = None,
) -> PayoutOut:
    """Move balance to the bank: standard is free, instant costs 1 % (at most $5).

    Send an Idempotency-Key: a repeated request then returns the first payout (200).
    202 with status ``unknown``: the provider did not answer; the payout is checked with it
    (never sent again) and becomes paid or failed; the amount is held meanwhile.
    """
    if data.speed is PayoutSpeed.INSTANT:
        await switches.require(request, Name.INSTANT_PAYOUTS)
    payout, created = await payouts.request(
        session=session, settings=settings, payments=integrations.payments, principal=principal,
        amount_cents=data.amount_cents, speed=data.speed, client_key=idempotency_key,
    )  # fmt: skip
    if not created:
        response.status_code = status.HTTP_200_OK
    elif payout.status == PayoutStatus.UNKNOWN:
        response.status_code = status.HTTP_202_ACCEPTED
    return PayoutOut.model_validate(payout)


@router.post("/payouts/account", responses={503: PAYMENT_PROBLEMS[503]})
async def open_payout_account(
    session: SessionDep, settings: SettingsDep, integrations: IntegrationsDep, principal: Earner
) -> PayoutAccountOut:
    """Open (once) the connected account payouts go to; follow ``onboarding_url`` to finish it."""
    return await payouts.open_account(
        session=session, settings=settings, payments=integrations.payments, principal=principal
    )


@router.get("/payouts")
async def payout_history(session: OwnReadSessionDep, principal: Earner, page: PageDep) -> PayoutPage:
    items, next_cursor = await payouts.history(session=session, user_id=principal.user_id, page=page)
    return PayoutPage(items=items, next_cursor=next_cursor)


@router.post("/invoices", status_code=status.HTTP_201_CREATED)
@ratelimit.limit("post_invoice")
async def create_invoice(
    data: InvoiceCreate, session: SessionDep, settings: SettingsDep, principal: Contractor
) -> InvoiceOut:
    """A draft invoice for a job whose bid the contractor won; numbered INV-000001 onwards."""
    invoice = await invoices.create(session=session, settings=settings, principal=principal, data=data)
    return await invoices.present(session, invoice)


@router.get("/invoices")
async def list_invoices(
    session: OwnReadSessionDep,
    principal: InvoiceParty,
    page: PageDep,
    status: InvoiceStatus | None = None,
) -> InvoicePage:
    """A contractor's own invoices, or those sent to a homeowner, newest first."""
    items, next_cursor = await invoices.browse(session=session, principal=principal, status=status, page=page)
    return InvoicePage(items=items, next_cursor=next_cursor)


@router.get("/invoices/{invoice_id}")
async def get_invoice(invoice_id: Id, session: SessionDep, principal: SignedIn) -> InvoiceOut:
    """The invoice with its lines; the homeowner opening a sent invoice marks it viewed."""
    invoice = await invoices.view(session=session, principal=principal, invoice_id=invoice_id)
    return await invoices.present(session, invoice)


@router.post("/invoices/{invoice_id}/send")
async def send_invoice(
    invoice_id: Id, session: SessionDep, principal: Contractor, data: InvoiceSend | None = None
) -> InvoiceOut:
    invoice = await invoices.send(
        session=session, principal=principal, invoice_id=invoice_id, due_at=(data or InvoiceSend()).due_at
    )
    return await invoices.present(session, invoice)


@router.post("/invoices/{invoice_id}/pay", responses=PAYMENT_PROBLEMS)
async def pay_invoice(
    invoice_id: Id,
    data: InvoicePay,
    session: SessionDep,
    settings: SettingsDep,
    integrations: IntegrationsDep,
    principal: Homeowner,
    idempotency_key: IdempotencyKey = None,
) -> InvoiceOut:
    """Pay all or part of what is due."""
    invoice = await invoices.pay(
        session=session, settings=settings, payments=integrations.payments, principal=principal,
        invoice_id=invoice_id, amount_cents=data.amount_cents, payment_method=data.payment_method,
        client_key=idempotency_key,
    )  # fmt: skip
    return await invoices.present(session, invoice)


@router.post("/invoices/{invoice_id}/cancel")
async def cancel_invoice(invoice_id: Id, session: SessionDep, principal: Contractor) -> InvoiceOut:
    invoice = await invoices.cancel(session=session, principal=principal, invoice_id=invoice_id)
    return await invoices.present(session, invoice)
