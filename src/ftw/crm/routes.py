"""HTTP layer of the CRM: a contractor's own customers, nobody else's."""

from __future__ import annotations

from fastapi import APIRouter, status

from ftw.accounts.auth import Contractor
from ftw.core.deps import OwnReadSessionDep, SessionDep
from ftw.core.pagination import PageDep
from ftw.core.routing import LeanRoute
from ftw.core.validation import Id
from ftw.crm import service
from ftw.crm.models import Stage
from ftw.crm.schemas import (
    CustomerDetail,
    CustomerOut,
    CustomerPage,
    InteractionIn,
    InteractionOut,
    InteractionPage,
    LeadIn,
    StageIn,
)

router = APIRouter(prefix="/api/v1/crm", tags=["crm"], route_class=LeanRoute)


@router.get("/customers")
async def customers(
    session: OwnReadSessionDep,
    principal: Contractor,
    page: PageDep,
    stage: Stage | None = None,
) -> CustomerPage:
    """The pipeline: leads, active, completed, advocates, inactive; most recently touched first."""
    items, next_cursor = await service.customers(
        session=session, contractor_id=principal.user_id, stage=stage, page=page
    )
    return CustomerPage(items=items, next_cursor=next_cursor)


@router.post("/customers", status_code=status.HTTP_201_CREATED)
async def add_lead(data: LeadIn, session: SessionDep, principal: Contractor) -> CustomerOut:
    """Add a lead: a homeowner whose job you bid on (customers also appear when a bid is accepted)."""
    return await service.add_lead(
        session=session, contractor_id=principal.user_id, homeowner_id=data.homeowner_id
    )


@router.get("/customers/{customer_id}")
async def customer(customer_id: Id, session: OwnReadSessionDep, principal: Contractor) -> CustomerDetail:
    return await service.customer(session=session, contractor_id=principal.user_id, customer_id=customer_id)


@router.patch("/customers/{customer_id}")
async def set_stage(
    customer_id: Id, data: StageIn, session: SessionDep, principal: Contractor
) -> CustomerOut:
    return await service.set_stage(
        session=session, contractor_id=principal.user_id, customer_id=customer_id, stage=data.stage
    )


@router.post("/customers/{customer_id}/interactions", status_code=status.HTTP_201_CREATED)
async def add_interaction(
    customer_id: Id, data: InteractionIn, session: SessionDep, principal: Contractor
) -> InteractionOut:
    """Log a touch; an inbound one (the customer replied) pauses the follow-up sequence."""
    return await service.add_interaction(
        session=session, contractor_id=principal.user_id, customer_id=customer_id, data=data
    )


@router.get("/customers/{customer_id}/interactions")
async def interactions(
    customer_id: Id,
    session: OwnReadSessionDep,
    principal: Contractor,
    page: PageDep,
) -> InteractionPage:
    items, next_cursor = await service.interactions(
        session=session, contractor_id=principal.user_id, customer_id=customer_id, page=page
    )
    return InteractionPage(items=items, next_cursor=next_cursor)
