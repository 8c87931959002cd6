"""Job threads: one per job and contractor who bid on it, between that contractor and the
homeowner. A thread row is created with its first message; read markers count unread."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    Select,
    and_,
    bindparam,
    exists,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from ftw.accounts.models import Role, User
from ftw.bids.models import Bid
from ftw.core import events, metrics
from ftw.core.db import ReadSession
from ftw.core.errors import Forbidden, Invalid, NotFound
from ftw.core.pagination import Keyset, PageParams
from ftw.core.query import Query
from ftw.core.security import AccessClaims
from ftw.jobs import service as jobs
from ftw.jobs.models import Job
from ftw.messaging.events import HomeownerReplied
from ftw.messaging.models import PREVIEW_CHARS, Message, Notification, Thread, ThreadRead
from ftw.messaging.notifications import notify
from ftw.messaging.schemas import MessageIn, MessageOut, NotificationOut, ThreadSummary


async def _has_bid(session: AsyncSession, *, job_id: int, contractor_id: int | None) -> bool:
    """Any bid, whatever its status: a withdrawn or rejected bidder keeps the conversation."""
    if contractor_id is None:
        return False
    query = select(Bid.id).where(Bid.job_id == job_id, Bid.contractor_id == contractor_id).limit(1)
    return await session.scalar(query) is not None


def _asked(principal: AccessClaims, contractor_id: int | None) -> int | None:
    """The contractor whose thread the caller asks for: a contractor always means its own."""
    return principal.user_id if principal.role == Role.CONTRACTOR else contractor_id


def _counterpart(
    principal: AccessClaims,
    *,
    job_id: int,
    homeowner_id: int,
    contractor_id: int | None,
    has_bid: bool,
    writing: bool,
) -> int:
    """The contractor whose thread the caller means, after checking the caller may use it;
    ``has_bid``: whether the contractor ``_asked`` names has bid on the job."""
    if principal.role == Role.CONTRACTOR:
        if contractor_id not in (None, principal.user_id):
            raise Forbidden("A contractor sees only its own thread", field="contractor_id")
        if not has_bid:
            raise Forbidden("Only contractors who bid on this job may message its homeowner")
        return principal.user_id
    if principal.user_id != homeowner_id and (writing or principal.role != Role.ADMIN):
        raise Forbidden("Only the job's homeowner and the contractors who bid on it may use its threads")
    if contractor_id is None:
        raise Invalid("Say which contractor's thread", field="contractor_id")
    if not has_bid:
        raise NotFound(f"Contractor {contractor_id} has not bid on job {job_id}", field="contractor_id")
    return contractor_id


def _thread_upsert() -> ReturningInsert[tuple[int]]:
    """The thread of a job and contractor, created or moved to the top with the new message's
    preview and sender. Built once: ``excluded`` makes a new table alias each time it is read."""
    upsert = insert(Thread).values(
        job_id=bindparam("job_id"),
        homeowner_id=bindparam("homeowner_id"),
        contractor_id=bindparam("contractor_id"),
        last_message_at=func.now(),
        last_message_preview=bindparam("preview"),
        last_sender_id=bindparam("sender_id"),
    )
    return upsert.on_conflict_do_update(
        index_elements=[Thread.job_id, Thread.contractor_id],
        set_={
            "last_message_at": func.now(),
            "last_message_preview": upsert.excluded.last_message_preview,
            "last_sender_id": upsert.excluded.last_sender_id,
        },
    ).returning(Thread.id)


_THREAD_UPSERT = _thread_upsert()


async def send(*, session: AsyncSession, principal: AccessClaims, job_id: int, data: MessageIn) -> MessageOut:
    """Post to the thread (creating it), mark it read for the sender, notify the other side."""
    job = await jobs.get(session=session, job_id=job_id)
    asked = _asked(principal, data.contractor_id)
    contractor_id = _counterpart(
        principal,
        job_id=job.id,
        homeowner_id=job.homeowner_id,
        contractor_id=data.contractor_id,
        has_bid=await _has_bid(session, job_id=job.id, contractor_id=asked),
        writing=True,
    )
    thread_id = await session.scalar(
        _THREAD_UPSERT,
        {
            "job_id": job.id,
            "homeowner_id": job.homeowner_id,
            "contractor_id": contractor_id,
            "preview": data.body[:PREVIEW_CHARS],
            "sender_id": principal.user_id,
        },
    )
    row = (
        await session.execute(
            insert(Message)
            .values(thread_id=thread_id, sender_id=principal.user_id, body=data.body)
            .returning(Message.id, Message.thread_id, Message.sender_id, Message.body, Message.created_at)
        )
    ).one()
    message = MessageOut.model_validate(row._mapping)
    await _read_up_to(session, thread_id=message.thread_id, user_id=principal.user_id, message_id=message.id)
    sender_name = await session.scalar(select(User.full_name).where(User.id == principal.user_id))
    from_homeowner = principal.user_id == job.homeowner_id
    metrics.count("messages", session=session)
    await notify(
        session,
        user_id=contractor_id if from_homeowner else job.homeowner_id,
        kind="message.new",
        payload={
            "thread_id": message.thread_id,
            "message_id": message.id,
            "job_id": job.id,
            "job_title": job.title,
            "sender_id": principal.user_id,
            "sender_name": sender_name,
            "preview": message.body[:PREVIEW_CHARS],
        },
    )
    if from_homeowner:
        await events.publish(
            session, HomeownerReplied(contractor_id=contractor_id, homeowner_id=job.homeowner_id)
        )
    return message


def _thread_of_job() -> Query:
    asked = bindparam("contractor_id", type_=BigInteger)
    has_bid = exists().where(Bid.job_id == Job.id, Bid.contractor_id == asked)
    thread = select(Thread.id).where(Thread.job_id == Job.id, Thread.contractor_id == asked)
    return Query(
        select(Job.homeowner_id, has_bid.label("has_bid"), thread.scalar_subquery().label("thread_id")).where(
            Job.id == bindparam("job_id")
        )
    )


_THREAD_OF_JOB = _thread_of_job()
_HISTORY = Keyset(
    select(*Message.__table__.c[tuple(MessageOut.model_fields)]).where(
        Message.thread_id == bindparam("thread_id")
    ),
    Message.id.desc(),
)


async def history(
    *,
    session: AsyncSession,
    principal: AccessClaims,
    job_id: int,
    contractor_id: int | None,
    page: PageParams,
) -> tuple[int | None, list[MessageOut], str | None]:
    """A thread's messages newest first, by keyset on id: the job, the caller's right to the
    thread and the thread in one statement, its messages in another."""
    found = await _THREAD_OF_JOB.row(session, job_id=job_id, contractor_id=_asked(principal, contractor_id))
    if found is None:
        raise NotFound(f"No job {job_id}")
    _counterpart(
        principal,
        job_id=job_id,
        homeowner_id=found["homeowner_id"],
        contractor_id=contractor_id,
        has_bid=found["has_bid"],
        writing=False,
    )
    thread_id: int | None = found["thread_id"]
    if thread_id is None:
        return None, [], None
    rows, next_cursor = await _HISTORY.page(session, page.cursor, page.limit, thread_id=thread_id)
    return thread_id, [MessageOut.model_validate(dict(row)) for row in rows], next_cursor


def _mine(principal: AccessClaims) -> ColumnElement[bool]:
    """The caller's side of its threads, by the column its index starts with."""
    column = Thread.contractor_id if principal.role == Role.CONTRACTOR else Thread.homeowner_id
    return column == principal.user_id


def _read_marker(user_id: int | BindParameter[Any]) -> ColumnElement[bool]:
    return and_(ThreadRead.thread_id == Thread.id, ThreadRead.user_id == user_id)


def _unread_of(user_id: int | BindParameter[Any]) -> ColumnElement[bool]:
    """Messages of the thread that ``user_id`` did not send and has not read."""
    return and_(
        Message.thread_id == Thread.id,
        Message.id > func.coalesce(ThreadRead.last_read_message_id, 0),
        Message.sender_id != user_id,
    )


def _threads_pages(role: Role) -> Keyset:
    """The caller's threads, most recent first, each with its unread count and last message
    (copied onto the thread by ``send``): for one role (its side's column leads its index)."""
    me: BindParameter[int] = bindparam("me")
    side = Thread.contractor_id if role == Role.CONTRACTOR else Thread.homeowner_id
    unread = select(func.count()).select_from(Message).where(_unread_of(me)).scalar_subquery()
    query: Select[Any] = (
        select(
            Thread.id,
            Thread.job_id,
            Job.title.label("job_title"),
            Thread.homeowner_id,
            Thread.contractor_id,
            Thread.last_message_at,
            Thread.last_message_preview,
            Thread.last_sender_id,
            unread.label("unread"),
        )
        .join(Job, Job.id == Thread.job_id)
        .outerjoin(ThreadRead, _read_marker(me))
        # A thread without a last message is not listed, as when the message was joined.
        .where(side == me, Thread.last_message_at.is_not(None), Thread.last_sender_id.is_not(None))
    )
    return Keyset(query, Thread.last_message_at.desc().nulls_last(), Thread.id.desc())


_THREADS = {role: _threads_pages(role) for role in (Role.HOMEOWNER, Role.CONTRACTOR)}


async def threads(
    *, session: ReadSession, principal: AccessClaims, page: PageParams
) -> tuple[list[ThreadSummary], str | None]:
    """The caller's threads, most recent first, each with its unread count and last message."""
    role = Role.CONTRACTOR if principal.role == Role.CONTRACTOR else Role.HOMEOWNER
    rows, next_cursor = await _THREADS[role].page(session, page.cursor, page.limit, me=principal.user_id)
    return [ThreadSummary.model_validate(dict(row)) for row in rows], next_cursor


async def unread_total(*, session: AsyncSession, principal: AccessClaims) -> int:
    me = principal.user_id
    query = (
        select(func.count(Message.id))
        .select_from(Thread)
        .outerjoin(ThreadRead, _read_marker(me))
        .join(Message, _unread_of(me))
        .where(_mine(principal))
    )
    return await session.scalar(query) or 0


async def _read_up_to(session: AsyncSession, *, thread_id: int, user_id: int, message_id: int) -> int:
    """Move the read marker forward (never back); returns where it now stands."""
    statement = insert(ThreadRead).values(
        thread_id=thread_id, user_id=user_id, last_read_message_id=message_id
    )
    marker = await session.scalar(
        statement.on_conflict_do_update(
            index_elements=[ThreadRead.thread_id, ThreadRead.user_id],
            set_={
                "last_read_message_id": func.greatest(
                    ThreadRead.last_read_message_id, statement.excluded.last_read_message_id
                )
            },
        ).returning(ThreadRead.last_read_message_id)
    )
    assert marker is not None
    return int(marker)


async def mark_read(
    *, session: AsyncSession, principal: AccessClaims, thread_id: int, message_id: int | None
) -> tuple[int, int]:
    """Mark the thread read up to ``message_id`` (default: its latest message).

    Returns the read marker and the caller's unread count left in the thread.
    """
    thread = await session.get(Thread, thread_id)
    if thread is None:
        raise NotFound(f"No thread {thread_id}")
    me = principal.user_id
    if me not in (thread.homeowner_id, thread.contractor_id):
        raise Forbidden("Only the thread's participants may mark it read")
    in_thread = select(func.max(Message.id)).where(Message.thread_id == thread_id)
    if message_id is not None:
        in_thread = in_thread.where(Message.id == message_id)
    target = await session.scalar(in_thread)
    if target is None:
        if message_id is not None:
            raise Invalid(f"Message {message_id} is not in thread {thread_id}", field="message_id")
        target = 0
    marker = await _read_up_to(session, thread_id=thread_id, user_id=me, message_id=target)
    unread = await session.scalar(
        select(func.count()).where(
            Message.thread_id == thread_id, Message.id > marker, Message.sender_id != me
        )
    )
    return marker, int(unread or 0)


_UNREAD_COUNT = select(func.count()).where(
    Notification.user_id == bindparam("user_id"), Notification.read_at.is_(None)
)
_UNREAD_NOTIFICATIONS = Query(_UNREAD_COUNT)


def _notifications_pages(*, unread_only: bool) -> Keyset:
    """A page of the user's notifications, each row carrying the user's unread count (an
    uncorrelated subquery: PostgreSQL counts once per statement)."""
    query = select(
        *Notification.__table__.c["id", "kind", "payload", "created_at", "read_at"],
        _UNREAD_COUNT.scalar_subquery().label("unread"),
    ).where(Notification.user_id == bindparam("user_id"))
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return Keyset(query, Notification.id.desc())


_NOTIFICATIONS = {unread_only: _notifications_pages(unread_only=unread_only) for unread_only in (False, True)}


async def notifications(
    *, session: ReadSession, user_id: int, unread_only: bool, page: PageParams
) -> tuple[list[NotificationOut], str | None, int]:
    """The user's notifications newest first (keyset on id), and how many are unread: one
    statement, but for a page past the end, which has no row to carry the count."""
    rows, next_cursor = await _NOTIFICATIONS[unread_only].page(
        session, page.cursor, page.limit, user_id=user_id
    )
    if rows:
        unread = rows[0]["unread"]
    elif page.cursor is None:  # an empty first page: no notification, or none unread
        unread = 0
    else:
        counted = await _UNREAD_NOTIFICATIONS.row(session, user_id=user_id)
        unread = counted[0] if counted is not None else 0
    items = [NotificationOut.model_validate(dict(row)) for row in rows]
    return items, next_cursor, unread


async def latest_notification_id(*, session: AsyncSession, user_id: int) -> int:
    """The id of the user's newest notification, 0 if it has none."""
    newest = await session.scalar(select(func.max(Notification.id)).where(Notification.user_id == user_id))
    return newest or 0


async def notifications_after(
    *, session: AsyncSession, user_id: int, after_id: int, limit: int
) -> list[NotificationOut]:
    """The user's notifications with an id above ``after_id``, oldest first; the newest
    ``limit`` of them when there are more (the rest stay in the notification list)."""
    rows = await session.scalars(
        select(Notification)
        .where(Notification.user_id == user_id, Notification.id > after_id)
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    return [NotificationOut.model_validate(n) for n in reversed(rows.all())]


async def notifications_by_id(
    *, session: AsyncSession, user_id: int, ids: Collection[int]
) -> list[NotificationOut]:
    """Those of ``ids`` that are the user's notifications, oldest first."""
    rows = await session.scalars(
        select(Notification)
        .where(Notification.user_id == user_id, Notification.id.in_(ids))
        .order_by(Notification.id)
    )
    return [NotificationOut.model_validate(n) for n in rows]


async def read_notification(*, session: AsyncSession, user_id: int, notification_id: int) -> NotificationOut:
    """Mark one of the user's notifications read; someone else's is a 404, as is a missing one."""
    notification = await session.scalar(
        update(Notification)
        .where(Notification.id == notification_id, Notification.user_id == user_id)
        .values(read_at=func.coalesce(Notification.read_at, func.now()))
        .returning(Notification)
    )
    if notification is None:
        raise NotFound(f"No notification {notification_id}")
    return NotificationOut.model_validate(notification)


async def read_all_notifications(*, session: AsyncSession, user_id: int) -> int:
    result = await session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=func.now())
        .returning(Notification.id)
    )
    return len(result.all())
