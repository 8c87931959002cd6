"""HTTP layer of reviews and the public contractor profile."""

from __future__ import annotations

from fastapi import APIRouter, status

from ftw.accounts.auth import Anyone, Contractor, Homeowner
from ftw.core.deps import ReadSessionDep, SessionDep
from ftw.core.pagination import PageDep
from ftw.core.routing import LeanRoute
from ftw.core.validation import Id
from ftw.reviews import service
from ftw.reviews.schemas import ContractorProfile, ResponseIn, ReviewIn, ReviewOut, ReviewPage

router = APIRouter(prefix="/api/v1", tags=["reviews"], route_class=LeanRoute)


@router.post("/jobs/{job_id}/review", status_code=status.HTTP_201_CREATED)
async def review_job(job_id: Id, data: ReviewIn, session: SessionDep, principal: Homeowner) -> ReviewOut:
    """Rate the contractor of your completed job (1-5 stars, at least 10 characters), once."""
    return await service.post(session=session, principal=principal, job_id=job_id, data=data)


@router.post("/reviews/{review_id}/response")
async def respond(review_id: Id, data: ResponseIn, session: SessionDep, principal: Contractor) -> ReviewOut:
    """Answer a review of your work, once."""
    return await service.respond(session=session, principal=principal, review_id=review_id, data=data)


@router.get("/contractors/{contractor_id}")
async def contractor_profile(contractor_id: Id, session: ReadSessionDep, _: Anyone) -> ContractorProfile:
    return await service.profile(session=session, contractor_id=contractor_id)


@router.get("/contractors/{contractor_id}/reviews")
async def contractor_reviews(
    contractor_id: Id,
    session: ReadSessionDep,
    _: Anyone,
    page: PageDep,
) -> ReviewPage:
    items, next_cursor = await service.of_contractor(session=session, contractor_id=contractor_id, page=page)
    return ReviewPage(items=items, next_cursor=next_cursor)
