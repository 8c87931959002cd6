"""A contractor's pages: the county job board, bidding, its bids, starting awarded work."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from ftw.accounts import service as accounts
from ftw.bids import flows
from ftw.bids import service as bids
from ftw.bids.schemas import BidCreate
from ftw.core.errors import DomainError
from ftw.core.switches import Name
from ftw.core.validation import Id
from ftw.jobs import service as jobs
from ftw.web.forms import FormInvalid, card_method, cents, parse, refusal
from ftw.web.page import ContractorPage, Cursor, Page
from ftw.web.public import job_page, listing

router = APIRouter(include_in_schema=False)


@router.get("/board")
async def board(
    page: ContractorPage,
    county: Annotated[str, Query(pattern=r"^(\d{5})?$")] = "",
    q: str = "",
    trade: str = "",
    size: str = "",
    urgent: str = "",
    cursor: str = "",
) -> Response:
    """The open jobs of the contractor's county (or of ``county``), filtered and searched."""
    fips = county
    if not fips:
        async with page.reading() as s:
            me = await accounts.profile(session=s, user_id=page.user.user_id)
        if me.territory_fips is None:
            return page.render("board_nowhere.html")
        fips = me.territory_fips
    values = {"q": q, "trade": trade, "size": size, "urgent": urgent, "cursor": cursor}
    return await listing(page, fips, values, template="board.html")


@router.post("/jobs/{job_id}/bids")
async def place_bid(page: ContractorPage, job_id: Id) -> Response:
    await page.limit(tier=False, endpoint="post_bid")
    values = {"amount": page.field("amount").strip(), "message": page.field("message").strip()}
    rename = {"amount_cents": "amount"}
    try:
        asked = {"amount_cents": cents(values["amount"]), "message": values["message"]}
        data = parse(BidCreate, asked, rename=rename)
        async with page.writing() as s:
            await bids.place(session=s, settings=page.settings, principal=page.user, job_id=job_id, data=data)
    except (FormInvalid, DomainError) as exc:
        return await _refused(page, job_id, exc, values=values, rename=rename)
    return page.redirect(f"/jobs/{job_id}#my-bid")


async def _refused(
    page: Page, job_id: int, exc: FormInvalid | DomainError, *, values: dict[str, str], rename: dict[str, str]
) -> Response:
    """The job's page again, the refusal next to its field and the form as it was typed; a
    refusal of the caller itself (401, 403, 404) is its error page."""
    if isinstance(exc, FormInvalid):
        return await job_page(page, job_id, errors=exc.errors, values=values, status=422)
    if exc.status in (401, 403, 404):
        raise exc
    errors = refusal(exc, rename=rename).errors
    return await job_page(page, job_id, errors=errors, values=values, status=exc.status)


@router.post("/bids/{bid_id}/withdraw")
async def withdraw(page: ContractorPage, bid_id: Id) -> Response:
    async with page.writing() as s:
        bid = await bids.withdraw(session=s, principal=page.user, bid_id=bid_id)
    return page.redirect(f"/jobs/{bid.job_id}#my-bid")


@router.post("/bids/{bid_id}/boost")
async def boost(page: ContractorPage, bid_id: Id) -> Response:
    """Pay the boost price to show one's pending bid above the others for a while."""
    values = {"card": page.field("card").strip()}
    async with page.reading() as s:
        job_id = (await bids.get(session=s, bid_id=bid_id)).job_id
    rename = {"payment_method": "card"}
    try:
        method = card_method(values["card"])
        async with page.writing(Name.BOOSTS) as s:
            await bids.boost(
                session=s, settings=page.settings, payments=page.request.app.state.integrations.payments,
                principal=page.user, bid_id=bid_id, payment_method=method, client_key=None,
            )  # fmt: skip
    except (FormInvalid, DomainError) as exc:
        return await _refused(page, job_id, exc, values=values, rename=rename)
    return page.redirect(f"/jobs/{job_id}?done=boosted#my-bid")


@router.post("/jobs/{job_id}/start")
async def start(page: ContractorPage, job_id: Id) -> Response:
    async with page.writing() as s:
        await flows.start(session=s, principal=page.user, job_id=job_id)
    return page.redirect(f"/jobs/{job_id}")


@router.get("/bids")
async def my_bids(page: ContractorPage, cursor: Cursor = "") -> Response:
    async with page.reading() as s:
        listed, next_cursor = await bids.of_contractor(
            session=s, contractor_id=page.user.user_id, status=None, page=page.rows(cursor)
        )
        titles = await jobs.titles(session=s, job_ids=sorted({b.job_id for b in listed}))
    more = page.more(next_cursor)
    return page.render("my_bids.html", bids=listed, titles=titles, more=more)
