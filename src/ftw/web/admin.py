"""An admin's page: the launch switches, operator applications, and the way to /ops.

The switches change through ``switches.change`` (audit-logged, as ``PUT
/api/v1/admin/switches/NAME``), applications through ``accounts.service`` as the API's
approve and refuse routes do.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from starlette.responses import Response

from ftw.accounts import service as accounts
from ftw.core import switches
from ftw.core.errors import DomainError
from ftw.core.validation import Id
from ftw.web.forms import FormInvalid, parse
from ftw.web.page import AdminPage, Cursor, Page

router = APIRouter(include_in_schema=False)

APPLICANTS_PAGE = 50


async def _admin(page: Page, status: int = 200, *, cursor: str = "", **context: Any) -> Response:
    async with page.reading() as s:
        states = await switches.stored(s)
        applicants, next_cursor = await accounts.operator_applicants(
            session=s, pending=True, page=page.rows(cursor, APPLICANTS_PAGE)
        )
    more = f"/admin?cursor={next_cursor}#applications" if next_cursor else None
    return page.render(
        "admin.html", status, switches=states, features=switches.FEATURES, applicants=applicants,
        more=more, **{"failed": None, **context},
    )  # fmt: skip


@router.get("/admin")
async def overview(page: AdminPage, cursor: Cursor = "") -> Response:
    return await _admin(page, cursor=cursor)


@router.post("/admin/switches/{name}")
async def set_switch(page: AdminPage, name: switches.Name) -> Response:
    """Turn a switch on or off with the message users are shown. Allowed in maintenance
    mode: it is how maintenance ends."""
    typed = {"on": page.field("on"), "message": page.field("message").strip()}
    try:
        change = parse(switches.SwitchIn, {"on": typed["on"], "message": typed["message"] or None})
        async with page.writing(in_maintenance=True) as s:
            await switches.change(
                s, name=name, on=change.on, message=change.message, actor_id=page.user.user_id, via="web"
            )
    except FormInvalid as exc:
        return await _admin(page, 422, failed=name, errors=exc.errors, values=typed)
    switches.board(page.request).expire()
    return page.redirect(f"/admin#switch-{name.value}")


@router.post("/admin/operators/{user_id}/{decision}")
async def decide(page: AdminPage, user_id: Id, decision: Literal["approve", "refuse"]) -> Response:
    """Approve or refuse an operator's application."""
    decide_on = accounts.approve_operator if decision == "approve" else accounts.refuse_operator
    try:
        async with page.writing() as s:
            await decide_on(session=s, admin_id=page.user.user_id, user_id=user_id)
    except DomainError as exc:
        return await _admin(page, exc.status, errors={"applications": exc.detail})
    return page.redirect("/admin#applications")
