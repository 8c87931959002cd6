"""HTTP layer of messaging: job threads, read markers and notifications."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Request, status
from fastapi.responses import StreamingResponse

from ftw.accounts.auth import SignedIn
from ftw.core import ratelimit
from ftw.core.db import Database
from ftw.core.deps import OwnReadSessionDep, SessionDep
from ftw.core.pagination import PageDep
from ftw.core.routing import LeanRoute
from ftw.core.validation import MAX_ID, Id
from ftw.messaging import service, stream
from ftw.messaging.schemas import (
    MessageIn,
    MessageOut,
    MessagePage,
    NotificationOut,
    NotificationPage,
    ReadAllOut,
    ReadIn,
    ReadOut,
    ThreadPage,
    UnreadOut,
)

router = APIRouter(prefix="/api/v1", tags=["messaging"], route_class=LeanRoute)


@router.get("/jobs/{job_id}/messages")
async def job_messages(
    job_id: Id,
    session: OwnReadSessionDep,
    principal: SignedIn,
    page: PageDep,
    contractor_id: Annotated[int | None, Query(description="Homeowners and admins: whose thread")] = None,
) -> MessagePage:
    """One thread of the job, newest message first."""
    thread_id, items, next_cursor = await service.history(
        session=session, principal=principal, job_id=job_id, contractor_id=contractor_id, page=page
    )
    return MessagePage(thread_id=thread_id, items=items, next_cursor=next_cursor)


@router.post("/jobs/{job_id}/messages", status_code=status.HTTP_201_CREATED)
@ratelimit.limit("post_message")
async def send_message(job_id: Id, data: MessageIn, session: SessionDep, principal: SignedIn) -> MessageOut:
    return await service.send(session=session, principal=principal, job_id=job_id, data=data)


@router.get("/threads")
async def my_threads(session: OwnReadSessionDep, principal: SignedIn, page: PageDep) -> ThreadPage:
    """The caller's threads, most recent first, with unread counts and a preview."""
    items, next_cursor = await service.threads(session=session, principal=principal, page=page)
    return ThreadPage(items=items, next_cursor=next_cursor)


@router.get("/threads/unread")
async def unread(session: OwnReadSessionDep, principal: SignedIn) -> UnreadOut:
    """Unread messages across all the caller's threads."""
    return UnreadOut(unread=await service.unread_total(session=session, principal=principal))


@router.post("/threads/{thread_id}/read")
async def mark_read(
    thread_id: Id, session: SessionDep, principal: SignedIn, data: Annotated[ReadIn | None, Body()] = None
) -> ReadOut:
    marker, left = await service.mark_read(
        session=session,
        principal=principal,
        thread_id=thread_id,
        message_id=data.message_id if data else None,
    )
    return ReadOut(thread_id=thread_id, last_read_message_id=marker, unread=left)


@router.get("/notifications")
async def notifications(
    session: OwnReadSessionDep,
    principal: SignedIn,
    page: PageDep,
    unread_only: bool = False,
) -> NotificationPage:
    items, next_cursor, unread_count = await service.notifications(
        session=session, user_id=principal.user_id, unread_only=unread_only, page=page
    )
    return NotificationPage(items=items, next_cursor=next_cursor, unread=unread_count)


@router.get(
    "/notifications/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-sent events: `id` the notification id, `event` its kind, "
            "`data` the notification as in the list; `: ping` comments keep the connection alive",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def notification_stream(
    request: Request,
    principal: SignedIn,
    last_event_id: Annotated[
        int | None, Header(ge=0, le=MAX_ID, description="Reconnecting: the id of the last event received")
    ] = None,
) -> StreamingResponse:
    """The caller's new notifications as they happen, until its access token expires.

    With `Last-Event-ID` the notifications after that id come first (at most a page, the
    newest). When the stream ends, reconnect after the `retry` delay with a fresh token.
    """
    db: Database = request.app.state.db
    events = stream.events(
        request.app.state.notifications,
        db.sessions,
        user_id=principal.user_id,
        expires_at=principal.expires_at,
        last_event_id=last_event_id,
    )
    # No caching by the browser or a proxy, and no buffering by nginx.
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


@router.post("/notifications/read-all")
async def read_all(session: SessionDep, principal: SignedIn) -> ReadAllOut:
    return ReadAllOut(marked=await service.read_all_notifications(session=session, user_id=principal.user_id))


@router.post("/notifications/{notification_id}/read")
async def read_notification(notification_id: Id, session: SessionDep, principal: SignedIn) -> NotificationOut:
    return await service.read_notification(
        session=session, user_id=principal.user_id, notification_id=notification_id
    )
