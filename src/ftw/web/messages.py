"""Messages between a homeowner and each bidder, notifications, and their live updates.

Live updates come from the API's notification stream (``messaging.stream``), opened by
``static/app.js`` on ``/events`` with the session cookie: each notification refreshes the
bell, and the bid list or the thread on screen when it concerns them (htmx listens for
``ftw-<kind>`` events on the body). Without JavaScript every page still works by reloading.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response, StreamingResponse

from ftw.accounts.models import Role
from ftw.core.errors import DomainError
from ftw.core.validation import Id
from ftw.jobs import service as jobs
from ftw.messaging import service as messaging
from ftw.messaging import stream
from ftw.messaging.schemas import MessageIn
from ftw.reviews import service as reviews
from ftw.web.forms import FormInvalid, parse, refusal
from ftw.web.page import AnyPage, Cursor, Page, SignInRequired

router = APIRouter(include_in_schema=False)

ContractorId = Annotated[int | None, Query(alias="contractor", ge=1, le=2**63 - 1)]


def _signed_in(page: Page) -> None:
    if page.viewer is None:
        raise SignInRequired


@router.get("/events")
async def events(page: AnyPage) -> Response:
    """The viewer's notifications as server-sent events, until its access cookie expires
    (the browser then reconnects, and the next request renews the cookie)."""
    viewer = page.viewer
    if viewer is None:
        return page.respond(Response(status_code=204))  # 204: EventSource stops trying
    state = page.request.app.state
    body = stream.events(
        state.notifications, page.db.sessions, user_id=viewer.user_id, expires_at=viewer.expires_at,
        last_event_id=None,
    )  # fmt: skip
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return page.respond(StreamingResponse(body, media_type="text/event-stream", headers=headers))


@router.get("/bell")
async def bell(page: AnyPage) -> Response:
    """The bell's unread count, for htmx to refresh in place."""
    _signed_in(page)
    async with page.reading() as s:
        _, _, unread = await messaging.notifications(
            session=s, user_id=page.user.user_id, unread_only=True, page=page.rows(limit=1)
        )
    return page.render("_bell.html", unread=unread)


@router.get("/notifications")
async def notifications(page: AnyPage, cursor: Cursor = "") -> Response:
    """Newest first, 30 a page, the older ones a link away."""
    _signed_in(page)
    async with page.reading() as s:
        items, next_cursor, unread = await messaging.notifications(
            session=s, user_id=page.user.user_id, unread_only=False, page=page.rows(cursor, limit=30)
        )
    return page.render("notifications.html", items=items, unread=unread, more=page.more(next_cursor))


@router.post("/notifications/read")
async def read_all(page: AnyPage) -> Response:
    _signed_in(page)
    async with page.writing() as s:
        await messaging.read_all_notifications(session=s, user_id=page.user.user_id)
    return page.redirect("/notifications")


@router.get("/jobs/{job_id}/messages")
async def thread(page: AnyPage, job_id: Id, contractor: ContractorId = None, cursor: Cursor = "") -> Response:
    return await _thread(page, job_id, contractor, cursor=cursor)


async def _thread(
    page: Page,
    job_id: int,
    contractor_id: int | None,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
    cursor: str = "",
) -> Response:
    """One thread (the viewer's own as a contractor, a bidder's as the homeowner): its 100
    latest messages oldest first, or the 100 before ``cursor``; opening it marks it read."""
    _signed_in(page)
    viewer = page.user
    if viewer.role == Role.CONTRACTOR:
        contractor_id = viewer.user_id
    async with page.writing() as s:
        job = await jobs.get(session=s, job_id=job_id)
        thread_id, items, next_cursor = await messaging.history(
            session=s,
            principal=viewer,
            job_id=job_id,
            contractor_id=contractor_id,
            page=page.rows(cursor, limit=100),
        )
        if thread_id is not None and items:
            await messaging.mark_read(session=s, principal=viewer, thread_id=thread_id, message_id=None)
        people = await reviews.bidders(session=s, contractor_ids=[contractor_id] if contractor_id else [])
    context = {
        "job": job,
        "messages": list(reversed(items)),
        "contractor_id": contractor_id,
        "earlier": page.more(next_cursor),
        "latest": str(page.request.url.remove_query_params("cursor")) if cursor else None,
        "bidder": people.get(contractor_id) if contractor_id else None,
        "errors": errors or {},
        "values": values or {},
    }
    template = "_thread.html" if page.is_htmx else "thread.html"
    return page.render(template, status=status, **context)


@router.post("/jobs/{job_id}/messages")
async def send(page: AnyPage, job_id: Id, contractor: ContractorId = None) -> Response:
    _signed_in(page)
    await page.limit(tier=False, endpoint="post_message")
    values = {"body": page.field("body").strip()}
    contractor_id = None if page.user.role == Role.CONTRACTOR else contractor
    try:
        data = parse(MessageIn, {"body": values["body"], "contractor_id": contractor_id})
        async with page.writing() as s:
            await messaging.send(session=s, principal=page.user, job_id=job_id, data=data)
    except FormInvalid as exc:
        return await _thread(page, job_id, contractor_id, errors=exc.errors, values=values, status=422)
    except DomainError as exc:
        if exc.status in (401, 403, 404):
            raise
        errors = refusal(exc).errors
        return await _thread(page, job_id, contractor_id, errors=errors, values=values, status=exc.status)
    suffix = f"?contractor={contractor_id}" if contractor_id else ""
    return page.redirect(f"/jobs/{job_id}/messages{suffix}#send")
