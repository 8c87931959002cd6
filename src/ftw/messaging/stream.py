"""Live notification streams: server-sent events fed by one LISTEN connection per process.

``notify()`` sends ``pg_notify(CHANNEL, "<user id>:<notification id>")`` in the writer's
transaction, so a notice exists only once its notification is committed. The process's
:class:`Hub` holds one asyncpg connection LISTENing on that channel and wakes only the open
streams of the user a notice names; a woken stream reads the announced rows and sends them.
Nothing polls the database per stream: an idle stream is one coroutine waiting on one timer
(its next heartbeat, or its token's expiry).

Notices sent while the LISTEN connection is down are lost, so once it is back (after a
backoff) every stream re-reads what is newer than the last id it sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from datetime import UTC, datetime
from types import FrameType

import asyncpg
import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.config import StreamSettings
from ftw.core import metrics, signals
from ftw.core.db import sync_libpq_url
from ftw.messaging import service
from ftw.messaging.notifications import CHANNEL
from ftw.messaging.schemas import NotificationOut

log = structlog.get_logger(__name__)

Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]
PING = ": ping\n\n"
LISTEN_APPLICATION = "ftw-listen"  # application_name of the LISTEN connection, with the pid


def _settle(waiter: asyncio.Future[bool], news: bool) -> None:
    if not waiter.done():
        waiter.set_result(news)


class Subscription:
    """One open stream as the hub sees it: what happened since the stream last looked."""

    __slots__ = ("_waiter", "announced", "closed", "resync", "user_id")

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self.announced: list[int] = []  # notification ids, in commit order
        self.resync = False  # notices may have been lost: re-read everything newer
        self.closed = False
        self._waiter: asyncio.Future[bool] | None = None

    def announce(self, notification_id: int, backlog_max: int) -> None:
        if len(self.announced) >= backlog_max:  # a stalled client: re-read rather than queue more
            self.announced.clear()
            self.resync = True
        else:
            self.announced.append(notification_id)
        self._wake()

    def lost_notices(self) -> None:
        self.announced.clear()
        self.resync = True
        self._wake()

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None:
            _settle(self._waiter, True)

    async def wait(self, timeout_s: float) -> bool:
        """True as soon as there is news (announcements, a resync, closing); False after
        ``timeout_s`` without any. One future and one timer, nothing else per stream."""
        if self.announced or self.resync or self.closed:
            return True
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(timeout_s, _settle, waiter, False)
        try:
            return await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def take(self) -> tuple[list[int], bool]:
        """The announced ids and whether to re-read, forgotten once taken."""
        announced, resync = self.announced, self.resync
        self.announced, self.resync = [], False
        return announced, resync


class Hub:
    """This process's open streams by user, and the LISTEN connection that wakes them."""

    def __init__(self, settings: StreamSettings, *, page_size: int) -> None:
        self.settings = settings
        self.page_size = page_size  # the most a stream sends from one read
        self.closed = False
        self._streams: dict[int, list[Subscription]] = {}  # user id -> open streams, oldest first
        self._listened = False

    @property
    def open_streams(self) -> int:
        return sum(len(streams) for streams in self._streams.values())

    @contextmanager
    def subscription(self, user_id: int) -> Iterator[Subscription]:
        """Register a stream of ``user_id`` for the life of the block; past
        ``max_per_user``, the user's oldest stream is closed. Closed at once if the hub is."""
        subscription = Subscription(user_id)
        if self.closed:
            subscription.close()
            yield subscription
            return
        while len(self._streams.get(user_id, ())) >= self.settings.max_per_user:
            oldest = self._streams[user_id][0]
            self._remove(oldest)
            oldest.close()
        self._streams.setdefault(user_id, []).append(subscription)
        metrics.NOTIFICATION_STREAMS.inc()
        try:
            yield subscription
        finally:
            self._remove(subscription)

    def _remove(self, subscription: Subscription) -> None:
        streams = self._streams.get(subscription.user_id)
        if streams is None or subscription not in streams:
            return  # closed as the oldest, or when the hub closed
        streams.remove(subscription)
        if not streams:
            del self._streams[subscription.user_id]
        metrics.NOTIFICATION_STREAMS.dec()

    def announce(self, user_id: int, notification_id: int) -> None:
        for subscription in self._streams.get(user_id, ()):
            subscription.announce(notification_id, self.page_size)

    def notices_lost(self) -> None:
        """Notices may have been missed (the LISTEN connection was down): every stream re-reads."""
        for streams in self._streams.values():
            for subscription in streams:
                subscription.lost_notices()

    def close(self) -> None:
        """End every stream, now and from now on (shutting down)."""
        self.closed = True
        for streams in self._streams.values():
            for subscription in streams:
                subscription.close()

    def _on_notice(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        user, _, notification = payload.partition(":")
        try:
            self.announce(int(user), int(notification))
        except ValueError:
            log.warning("notification_notice_malformed", payload=payload[:100])

    async def listen(self, url: str) -> None:
        """Hold the LISTEN connection until cancelled, reconnecting with backoff."""
        delay = self.settings.reconnect_min_s
        while True:
            try:
                connection = await asyncpg.connect(
                    url,
                    timeout=self.settings.heartbeat_s,
                    server_settings={"application_name": f"{LISTEN_APPLICATION}-{os.getpid()}"},
                )
            except Exception as error:  # refused, timed out, authentication: all mean "retry later"
                log.warning("notification_listen_failed", error=repr(error), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.reconnect_max_s)
                continue
            delay = self.settings.reconnect_min_s
            try:
                await self._hold(connection)
            except Exception as error:  # the connection failed under us
                log.warning("notification_listen_lost", error=repr(error), retry_in_s=delay)
            finally:
                connection.terminate()
            await asyncio.sleep(delay)

    async def _hold(self, connection: asyncpg.Connection) -> None:
        """LISTEN on ``connection`` until it is lost; probed every heartbeat, so a silently
        dead network shows as a failed probe rather than as endless quiet."""
        lost: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        connection.add_termination_listener(lambda _: _settle(lost, True))
        await connection.add_listener(CHANNEL, self._on_notice)
        if self._listened:  # notices sent while we were away are lost
            self.notices_lost()
        self._listened = True
        log.info("notification_listening", channel=CHANNEL)
        while not lost.done():
            await asyncio.wait([lost], timeout=self.settings.heartbeat_s)
            if not lost.done():
                await connection.fetchval("SELECT 1", timeout=self.settings.heartbeat_s)
        log.warning("notification_listen_lost", error="connection closed")


def frame(notification: NotificationOut) -> str:
    """One server-sent event: the id, the kind as the event type, the notification as data."""
    return f"id: {notification.id}\nevent: {notification.kind}\ndata: {notification.model_dump_json()}\n\n"


async def events(
    hub: Hub, sessions: Sessions, *, user_id: int, expires_at: datetime, last_event_id: int | None
) -> AsyncIterator[str]:
    """The text of one user's stream, until its access token expires, the hub closes (the
    server is stopping), a newer stream of the user replaces it, or the client leaves.

    Without ``last_event_id`` it starts at the moment of connecting; with it, it first sends
    what came after that id (at most a page). Live notifications are sent as announced;
    after lost notices, everything newer than the last id sent is re-read.
    """
    loop = asyncio.get_running_loop()
    ends_at = loop.time() + (expires_at - datetime.now(UTC)).total_seconds()
    page = hub.page_size
    with hub.subscription(user_id) as subscription:  # first, so nothing committed meanwhile is missed
        yield f"retry: {hub.settings.retry_ms}\n\n"
        sent: list[NotificationOut] = []
        try:
            async with sessions() as session:
                if last_event_id is None:
                    last = await service.latest_notification_id(session=session, user_id=user_id)
                else:
                    last = last_event_id
                    sent = await service.notifications_after(
                        session=session, user_id=user_id, after_id=last, limit=page
                    )
            # Ids sent by a read rather than by their notice, which may still be on its way.
            read_ahead = {n.id for n in sent}
            while True:
                if sent:
                    yield "".join(frame(n) for n in sent)
                    last = max(last, sent[-1].id)
                    sent = []
                remaining_s = ends_at - loop.time()
                if subscription.closed or remaining_s <= 0:
                    return
                if not await subscription.wait(min(hub.settings.heartbeat_s, remaining_s)):
                    read_ahead.clear()  # any notice of those has long arrived
                    yield PING
                    continue
                announced, resync = subscription.take()
                fresh = set(announced) - read_ahead
                if not (resync or fresh):
                    continue
                async with sessions() as session:
                    if resync:
                        sent = await service.notifications_after(
                            session=session, user_id=user_id, after_id=last, limit=page
                        )
                        read_ahead.update(n.id for n in sent)
                    else:
                        sent = await service.notifications_by_id(session=session, user_id=user_id, ids=fresh)
        except (SQLAlchemyError, OSError) as error:  # the client reconnects with Last-Event-ID
            log.warning("notification_stream_read_failed", user_id=user_id, error=repr(error))


@contextmanager
def _closing_on_signal(hub: Hub) -> Iterator[None]:
    """End every stream as soon as SIGTERM or SIGINT arrives, then pass the signal on.

    uvicorn waits up to graceful_timeout_s for open responses before it stops, and a stream
    stays open for as long as its token lasts. Closed, its client reconnects after retry_ms
    to an instance that is not draining. Put in front of the drain of ops/health, which
    then does its part as before.
    """
    loop = asyncio.get_running_loop()

    def on_signal(signum: int, frame: FrameType | None, pass_on: signals.PassOn) -> None:
        loop.call_soon_threadsafe(hub.close)
        pass_on()

    with signals.in_front(on_signal):
        yield


@asynccontextmanager
async def running(hub: Hub, listen_url: str) -> AsyncIterator[None]:
    """Lifespan part: the LISTEN connection while the app runs; streams end on a stop signal."""
    listener = asyncio.create_task(hub.listen(sync_libpq_url(listen_url)), name="notification-listen")
    try:
        with _closing_on_signal(hub):
            yield
    finally:
        hub.close()
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
