"""A contractor's customers: the pipeline with a column per stage, the follow-ups coming up,
and a customer's page with its interactions, where the contractor logs a touch or moves
the customer to another stage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from ftw.core.validation import Id
from ftw.crm import service as crm
from ftw.crm.models import Stage
from ftw.crm.schemas import InteractionIn, InteractionKind, StageIn
from ftw.web.forms import FormInvalid, parse
from ftw.web.page import ContractorPage, Cursor, Page

router = APIRouter(include_in_schema=False)

COLUMN = 10  # customers shown per stage before "more"
FOLLOW_UPS = 20
STAGES = [(stage.value, stage.value.capitalize()) for stage in Stage]
KINDS = [
    (InteractionKind.NOTE.value, "Note"),
    (InteractionKind.CALL.value, "Call"),
    (InteractionKind.EMAIL.value, "E-mail"),
    (InteractionKind.SMS.value, "Text message"),
    (InteractionKind.VISIT.value, "Visit"),
    (InteractionKind.REPLY.value, "The customer replied (pauses follow-ups)"),
]


@router.get("/crm")
async def pipeline(
    page: ContractorPage, stage: Annotated[Stage | None, Query()] = None, cursor: Cursor = ""
) -> Response:
    """Every stage's first customers side by side; ``stage`` alone, page by page (keyset)."""
    shown = [stage] if stage is not None else list(Stage)
    columns = []
    async with page.reading() as s:
        for one in shown:
            items, next_cursor = await crm.customers(
                session=s, contractor_id=page.user.user_id, stage=one,
                page=page.rows(cursor, None if stage else COLUMN),
            )  # fmt: skip
            more = f"/crm?stage={one.value}&cursor={next_cursor}" if next_cursor else None
            columns.append((one, items, more))
        due = await crm.follow_ups_due(session=s, contractor_id=page.user.user_id, limit=FOLLOW_UPS)
    return page.render(
        "crm.html", columns=columns, due=due, one_stage=stage, follow_up_days=page.settings.crm.follow_up_days
    )


@router.get("/crm/customers/{customer_id}")
async def customer_page(page: ContractorPage, customer_id: Id, cursor: Cursor = "") -> Response:
    return await _customer_page(page, customer_id, cursor=cursor)


async def _customer_page(
    page: Page,
    customer_id: int,
    *,
    cursor: str = "",
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with page.reading() as s:
        found = await crm.customer(session=s, contractor_id=page.user.user_id, customer_id=customer_id)
        touches, next_cursor = await crm.interactions(
            session=s, contractor_id=page.user.user_id, customer_id=customer_id, page=page.rows(cursor)
        )
    more = page.more(next_cursor)
    return page.render(
        "customer.html",
        status=status,
        customer=found,
        interactions=touches,
        more=more,
        stages=STAGES,
        kinds=KINDS,
        values={"stage": found.stage.value, "kind": InteractionKind.NOTE.value} | (values or {}),
        errors=errors or {},
    )


@router.post("/crm/customers/{customer_id}/interactions")
async def log_interaction(page: ContractorPage, customer_id: Id) -> Response:
    values = {"kind": page.field("kind"), "note": page.field("note").strip()}
    try:
        data = parse(InteractionIn, values)
        async with page.writing() as s:
            await crm.add_interaction(
                session=s, contractor_id=page.user.user_id, customer_id=customer_id, data=data
            )
    except FormInvalid as exc:
        return await _customer_page(page, customer_id, values=values, errors=exc.errors, status=422)
    return page.redirect(f"/crm/customers/{customer_id}#interactions")


@router.post("/crm/customers/{customer_id}/stage")
async def move(page: ContractorPage, customer_id: Id) -> Response:
    values = {"stage": page.field("stage")}
    try:
        data = parse(StageIn, values)
        async with page.writing() as s:
            await crm.set_stage(
                session=s, contractor_id=page.user.user_id, customer_id=customer_id, stage=data.stage
            )
    except FormInvalid as exc:
        return await _customer_page(page, customer_id, values=values, errors=exc.errors, status=422)
    return page.redirect(f"/crm/customers/{customer_id}")
