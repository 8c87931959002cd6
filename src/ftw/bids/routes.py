"""HTTP layer of bids, and of the award flow (accept, start, complete)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from ftw.accounts.auth import Contractor, Homeowner, SignedIn
from ftw.bids import flows, service
from ftw.bids.models import BidStatus
from ftw.bids.schemas import AwardOut, BidCreate, BidOut, BidPage, BidUpdate, PayWith
from ftw.billing.schemas import IdempotencyKey, PaymentOut
from ftw.core import ratelimit, switches
from ftw.core.deps import OwnReadSessionDep, SessionDep, SettingsDep
from ftw.core.errors import PROBLEM_JSON
from ftw.core.pagination import PageDep
from ftw.core.routing import LeanRoute
from ftw.core.switches import Name
from ftw.core.validation import Id
from ftw.integrations.deps import IntegrationsDep, StorageDep
from ftw.jobs import service as jobs
from ftw.jobs.schemas import JobOut

router = APIRouter(prefix="/api/v1", tags=["bids"], route_class=LeanRoute)


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {}}}


@router.post("/jobs/{job_id}/bids", status_code=status.HTTP_201_CREATED)
@ratelimit.limit("post_bid")
async def place(
    job_id: Id, data: BidCreate, session: SessionDep, settings: SettingsDep, principal: Contractor
) -> BidOut:
    """Bid on an open job (any territory). One live bid per contractor and job."""
    bid = await service.place(
        session=session, settings=settings, principal=principal, job_id=job_id, data=data
    )
    return BidOut.model_validate(bid)


@router.get("/jobs/{job_id}/bids")
@ratelimit.limit("list_bids")
async def of_job(
    job_id: Id,
    session: OwnReadSessionDep,
    principal: SignedIn,
    page: PageDep,
    status: BidStatus | None = None,
) -> BidPage:
    """Blind bidding: contractors see their own bids; the homeowner, the territory's operator
    and admins see all, accepted first, then live boosts, then by amount."""
    items, next_cursor = await service.of_job(
        session=session, principal=principal, job_id=job_id, status=status, page=page
    )
    return BidPage(items=items, next_cursor=next_cursor)


@router.get("/bids")
@ratelimit.limit("list_bids")
async def mine(
    session: OwnReadSessionDep,
    principal: Contractor,
    page: PageDep,
    status: BidStatus | None = None,
) -> BidPage:
    """The caller's own bids, newest first."""
    items, next_cursor = await service.of_contractor(
        session=session, contractor_id=principal.user_id, status=status, page=page
    )
    return BidPage(items=items, next_cursor=next_cursor)


@router.patch("/bids/{bid_id}")
async def edit(
    bid_id: Id, data: BidUpdate, session: SessionDep, settings: SettingsDep, principal: Contractor
) -> BidOut:
    """Change the amount or message of one's pending bid."""
    bid = await service.edit(
        session=session, settings=settings, principal=principal, bid_id=bid_id, data=data
    )
    return BidOut.model_validate(bid)


@router.post("/bids/{bid_id}/withdraw")
async def withdraw(bid_id: Id, session: SessionDep, principal: Contractor) -> BidOut:
    bid = await service.withdraw(session=session, principal=principal, bid_id=bid_id)
    return BidOut.model_validate(bid)


@router.post(
    "/bids/{bid_id}/boost",
    dependencies=[switches.required(Name.BOOSTS)],
    responses={402: _problem("The card was declined"), 503: _problem("The payments provider is down")},
)
async def boost(
    bid_id: Id,
    session: SessionDep,
    settings: SettingsDep,
    integrations: IntegrationsDep,
    principal: Contractor,
    idempotency_key: IdempotencyKey = None,
    data: PayWith | None = None,
) -> BidOut:
    """Pay the boost price to show the bid above others for a while (a few per job at once)."""
    bid = await service.boost(
        session=session, settings=settings, payments=integrations.payments, principal=principal,
        bid_id=bid_id, payment_method=(data or PayWith()).payment_method, client_key=idempotency_key,
    )  # fmt: skip
    return BidOut.model_validate(bid)


@router.post(
    "/bids/{bid_id}/accept",
    responses={
        202: {"model": AwardOut, "description": "The provider is unreachable; the charge will be retried"},
        402: _problem("The card was declined: the job stays open, the bid pending"),
        409: _problem("The job is no longer open, the bid not pending, or not the amount seen"),
    },
)
async def accept(
    bid_id: Id,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    integrations: IntegrationsDep,
    principal: Homeowner,
    idempotency_key: IdempotencyKey = None,
    data: PayWith | None = None,
) -> AwardOut:
    """Accept a bid and pay bid + platform fee, held until the job is complete.

    The other bids are rejected. Repeating the request returns the same award, charged once.
    Send the ``amount_cents`` you were shown: a bid changed since is refused with 409.
    """
    paying = data or PayWith()
    award = await flows.accept(
        session=session, settings=settings, payments=integrations.payments, principal=principal,
        bid_id=bid_id, payment_method=paying.payment_method, client_key=idempotency_key,
        seen_amount_cents=paying.amount_cents,
    )  # fmt: skip
    if award.status == "pending":
        response.status_code = status.HTTP_202_ACCEPTED
    return AwardOut(
        status=award.status,
        job_id=award.job_id,
        bid_id=award.bid_id,
        payment=PaymentOut.model_validate(award.payment),
    )


@router.post("/jobs/{job_id}/start")
async def start(job_id: Id, session: SessionDep, storage: StorageDep, principal: Contractor) -> JobOut:
    """The contractor whose bid was accepted starts the work."""
    job = await flows.start(session=session, principal=principal, job_id=job_id)
    return jobs.present(job, await jobs.photos_of(session=session, job_id=job_id), storage)


@router.post("/jobs/{job_id}/refund")
async def refund(
    job_id: Id, session: SessionDep, integrations: IntegrationsDep, storage: StorageDep, principal: SignedIn
) -> JobOut:
    """Cancel a paid job and refund its charge (once): its homeowner before the work starts,
    an admin also after (a dispute)."""
    job = await flows.refund(
        session=session, payments=integrations.payments, principal=principal, job_id=job_id
    )
    return jobs.present(job, await jobs.photos_of(session=session, job_id=job_id), storage)


@router.post("/jobs/{job_id}/complete")
async def complete(
    job_id: Id, session: SessionDep, settings: SettingsDep, storage: StorageDep, principal: Homeowner
) -> JobOut:
    """The homeowner confirms the work is done: the held payment is released to the contractor."""
    job = await flows.complete(session=session, settings=settings, principal=principal, job_id=job_id)
    return jobs.present(job, await jobs.photos_of(session=session, job_id=job_id), storage)
