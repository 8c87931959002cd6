"""A contractor's (or operator's) money: the balance, the payout account, payouts and their history.

A payout is asked for in two steps, both without JavaScript: the form (amount, standard or
instant) leads to a confirmation page that shows the fee and what reaches the bank, and
only its button pays out. The confirmation carries a request key, the API's
Idempotency-Key, so pressing it twice pays out once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from ftw.billing import payouts
from ftw.billing.models import PayoutSpeed, PayoutStatus
from ftw.billing.schemas import PayoutCreate
from ftw.core import switches
from ftw.core.errors import DomainError
from ftw.core.switches import Name
from ftw.web.forms import FormInvalid, cents, new_request_key, parse, refusal, request_key
from ftw.web.page import Cursor, EarnerPage, Page

router = APIRouter(include_in_schema=False)

RENAME = {"amount_cents": "amount"}
NOTICES = {
    "paid": "Payout sent to your bank.",
    "unknown": "The payments provider has not confirmed the payout yet. We check with it (never paying "
    "twice); the amount is held meanwhile.",
    "account": "Your payout account is set up.",
}


@router.get("/payouts")
async def money(page: EarnerPage, cursor: Cursor = "", done: str = "") -> Response:
    return await _money_page(page, cursor=cursor, notice=NOTICES.get(done, ""))


async def _money_page(
    page: Page,
    *,
    cursor: str = "",
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    notice: str = "",
    onboarding_url: str = "",
) -> Response:
    async with page.reading() as s:
        balance = await payouts.balance(session=s, settings=page.settings, principal=page.user)
        account = await payouts.destination(s, page.user.user_id)
        history, next_cursor = await payouts.history(
            session=s, user_id=page.user.user_id, page=page.rows(cursor)
        )
    more = page.more(next_cursor)
    return page.render(
        "payouts.html",
        status=status,
        balance=balance,
        account=account,
        history=history,
        more=more,
        fees=page.settings.fees,
        hold_days=page.settings.payouts.hold_days,
        values={"speed": PayoutSpeed.STANDARD.value} | (values or {}),
        errors=errors or {},
        notice=notice,
        onboarding_url=onboarding_url,
    )


def _asked(values: dict[str, str]) -> PayoutCreate:
    speed = values["speed"] or PayoutSpeed.STANDARD.value
    return parse(PayoutCreate, {"amount_cents": cents(values["amount"]), "speed": speed}, rename=RENAME)


@router.get("/payouts/confirm")
async def confirm(
    page: EarnerPage,
    amount: Annotated[str, Query(max_length=30)] = "",
    speed: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """What the payout costs and what reaches the bank, before anything moves."""
    values = {"amount": amount.strip(), "speed": speed}
    try:
        data = _asked(values)
        if data.speed is PayoutSpeed.INSTANT:
            await switches.require(page.request, Name.INSTANT_PAYOUTS)
    except FormInvalid as exc:
        return await _money_page(page, values=values, errors=exc.errors, status=422)
    except DomainError as exc:
        return await _money_page(page, values=values, errors={"speed": exc.detail}, status=exc.status)
    fee = payouts.fee_for(data.amount_cents, data.speed, page.settings.fees)
    return page.render(
        "payout_confirm.html",
        payout=data,
        fee=fee,
        net=data.amount_cents - fee,
        values=values,
        key=new_request_key(),
    )


@router.post("/payouts")
async def pay_out(page: EarnerPage) -> Response:
    values = {"amount": page.field("amount").strip(), "speed": page.field("speed")}
    try:
        data = _asked(values)
        if data.speed is PayoutSpeed.INSTANT:
            await switches.require(page.request, Name.INSTANT_PAYOUTS)
        async with page.writing() as s:
            payout, _ = await payouts.request(
                session=s, settings=page.settings, payments=page.request.app.state.integrations.payments,
                principal=page.user, amount_cents=data.amount_cents, speed=data.speed,
                client_key=request_key(page.field("key")),
            )  # fmt: skip
    except FormInvalid as exc:
        return await _money_page(page, values=values, errors=exc.errors, status=422)
    except DomainError as exc:
        if exc.status in (401, 403, 404):
            raise
        errors = refusal(exc, rename=RENAME).errors
        return await _money_page(page, values=values, errors=errors, status=exc.status)
    return page.redirect(f"/payouts?done={'unknown' if payout.status == PayoutStatus.UNKNOWN else 'paid'}")


@router.post("/payouts/account")
async def open_account(page: EarnerPage) -> Response:
    """Open (once) the connected account payouts go to; the provider's form finishes it."""
    try:
        async with page.writing() as s:
            opened = await payouts.open_account(
                session=s, settings=page.settings, payments=page.request.app.state.integrations.payments,
                principal=page.user,
            )  # fmt: skip
    except DomainError as exc:
        if exc.status in (401, 403, 404):
            raise
        return await _money_page(page, errors={"payout_account": exc.detail}, status=exc.status)
    return await _money_page(
        page, notice="Your payout account is open.", onboarding_url=opened.onboarding_url
    )


@router.get("/payouts/account")
async def back_from_provider(page: EarnerPage) -> Response:
    """Where the provider's onboarding form sends its person back."""
    return page.redirect("/payouts?done=account")
