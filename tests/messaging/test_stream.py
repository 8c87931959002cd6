"""The live notification stream (server-sent events).

NOTIFY fires only when a transaction commits, and every test transaction here is rolled
back, so what a user sees end to end is tested against real `ftw serve` processes on a
database of their own (migrated here, dropped afterwards), with notifications committed by
the API or by ``notify()`` itself. The stream's own logic (replay, announcements, lost
notices) is also driven directly on the test transaction, where the hub is told by hand.
"""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.config import DEV_SECRET, Settings, StreamSettings
from ftw.core.db import Database, sync_libpq_url
from ftw.messaging import service, stream
from ftw.messaging.notifications import notify
from tests.conftest import Account, SignUp, migrated_database
from tests.conftest import signed_up as sign_up_with
from tests.ops.conftest import Served, serve
from tests.support.market import JOB

PATH = "/api/v1/notifications/stream"
WAIT_S = 10.0  # generous: arrival is meant to take milliseconds
SERVER_ENV = {
    "FTW_STREAMS__HEARTBEAT_S": "1",
    "FTW_STREAMS__RECONNECT_MIN_S": "2",  # a LISTEN outage long enough to commit into
    "FTW_STREAMS__MAX_PER_USER": "2",
    "FTW_RATE_LIMITS_ENABLED": "false",
    "FTW_POOL__MIN_SIZE": "2",
    "FTW_POOL__MAX_SIZE": "5",
}


@dataclass
class Event:
    """One block of the stream: an event, or a comment (the heartbeat), or a retry hint."""

    id: int | None = None
    event: str | None = None
    data: str = ""
    retry_ms: int | None = None
    comment: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


class Client:
    """Reads a stream as EventSource would: blocks of ``field: value`` lines."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def block(self) -> Event | None:
        """The next block, or None once the server has ended the stream."""
        event = Event()
        seen = False
        async for line in self._lines:
            if not line:
                if seen:
                    return event
                continue
            seen = True
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "":
                event.comment = value
            elif field == "id":
                event.id = int(value)
            elif field == "event":
                event.event = value
            elif field == "data":
                event.data = value
            elif field == "retry":
                event.retry_ms = int(value)
        return None

    async def notification(self) -> Event:
        """The next event that is a notification (heartbeats skipped), within WAIT_S."""

        async def first() -> Event:
            while True:
                block = await self.block()
                assert block is not None, "the stream ended"
                if block.id is not None:
                    return block

        return await asyncio.wait_for(first(), WAIT_S)

    async def end(self) -> list[Event]:
        """Every block until the server ends the stream (within WAIT_S)."""

        async def rest() -> list[Event]:
            blocks = []
            while (block := await self.block()) is not None:
                blocks.append(block)
            return blocks

        return await asyncio.wait_for(rest(), WAIT_S)


@asynccontextmanager
async def opened(
    base_url: str, headers: dict[str, str], *, last_event_id: int | None = None
) -> AsyncIterator[Client]:
    """A stream, yielded once its first block (the retry hint) arrived: the server has
    subscribed it by then, so anything committed afterwards reaches it."""
    if last_event_id is not None:
        headers = {**headers, "Last-Event-ID": str(last_event_id)}
    timeout = httpx.Timeout(WAIT_S, read=3 * WAIT_S)
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=timeout) as http,
        http.stream("GET", PATH, headers=headers) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        client = Client(response)
        first = await asyncio.wait_for(client.block(), WAIT_S)
        assert first is not None
        assert first.retry_ms == StreamSettings().retry_ms
        yield client


# -- against real servers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def stream_database(database_url: str) -> Iterator[str]:
    with migrated_database(f"{make_url(database_url).database}_stream") as url:
        yield url


@pytest.fixture(scope="module")
def server(stream_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = serve(stream_database, tmp_path_factory.mktemp("stream"), workers=1, **SERVER_ENV)
    yield served
    served.stop()


@pytest.fixture(scope="module")
async def committed(stream_database: str) -> AsyncIterator[Database]:
    """Sessions on the servers' database that really commit."""
    db = Database.connect(stream_database, Settings(environment="test"), pool_size=1)
    yield db
    await db.dispose()


async def create(db: Database, user: Account, kind: str = "review.new", **payload: Any) -> int:
    """Commit a notification for ``user`` the way the domain does, through notify()."""
    async with db.session() as session:
        notification = await notify(session, user_id=user.id, kind=kind, payload=payload)
    return notification.id


async def signed_up(base_url: str, role: str = "homeowner") -> Account:
    async with httpx.AsyncClient(base_url=base_url, timeout=WAIT_S) as http:
        return await sign_up_with(http, f"stream-{role}-{uuid.uuid4().hex[:10]}@example.com", role)


async def test_a_new_bid_reaches_the_homeowners_stream_and_no_one_elses(server: Served) -> None:
    alice = await signed_up(server.url)
    bob = await signed_up(server.url)
    contractor = await signed_up(server.url, "contractor")
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT_S) as http:
        jobs = []
        for owner in (alice, bob):
            posted = await http.post("/api/v1/jobs", json=JOB, headers=owner.headers)
            assert posted.status_code == 201, posted.text
            jobs.append(posted.json())

        async def bid_on(job: dict[str, Any]) -> None:
            amount = job["estimate"]["price_low_cents"]
            placed = await http.post(
                f"/api/v1/jobs/{job['id']}/bids",
                json={"amount_cents": amount, "message": "I can fix this tomorrow morning."},
                headers=contractor.headers,
            )
            assert placed.status_code == 201, placed.text

        async with opened(server.url, alice.headers) as alices, opened(server.url, bob.headers) as bobs:
            await bid_on(jobs[0])
            event = await alices.notification()
            await bid_on(jobs[1])
            bobs_first = await bobs.notification()
        listed = (await http.get("/api/v1/notifications", headers=alice.headers)).json()["items"]

    assert event.event == "bid.new"
    assert event.id == listed[0]["id"]
    assert event.json() == listed[0]  # the same shape as the notification list
    assert event.json()["payload"]["job_id"] == jobs[0]["id"]
    assert bobs_first.json()["payload"]["job_id"] == jobs[1]["id"]  # never Alice's


async def test_reconnecting_with_last_event_id_replays_what_was_missed(
    server: Served, committed: Database
) -> None:
    alice = await signed_up(server.url)
    async with opened(server.url, alice.headers) as live:
        first = await create(committed, alice, rating=5)
        assert (await live.notification()).id == first
    missed = [await create(committed, alice, rating=n) for n in (3, 4)]

    async with opened(server.url, alice.headers, last_event_id=first) as resumed:
        replayed = [(await resumed.notification()).id for _ in missed]
        after = await create(committed, alice, rating=2)
        assert (await resumed.notification()).id == after
    assert replayed == missed  # oldest first

    async with opened(server.url, alice.headers) as fresh:  # no Last-Event-ID: only what is new
        newest = await create(committed, alice, rating=1)
        assert (await fresh.notification()).id == newest


async def test_a_notification_made_while_the_listen_connection_is_down_still_arrives(
    server: Served, stream_database: str, committed: Database
) -> None:
    alice = await signed_up(server.url)
    database = make_url(stream_database).database
    admin = await asyncpg.connect(sync_libpq_url(stream_database))
    try:
        listeners = """SELECT pid FROM pg_stat_activity
                       WHERE datname = $1 AND application_name LIKE $2 || '-%'"""
        async with opened(server.url, alice.headers) as live:
            (pid,) = [row["pid"] for row in await admin.fetch(listeners, database, stream.LISTEN_APPLICATION)]
            assert await admin.fetchval("SELECT pg_terminate_backend($1, 5000)", pid)
            assert await admin.fetch(listeners, database, stream.LISTEN_APPLICATION) == []
            during = await create(committed, alice, rating=4)  # its NOTIFY reaches no one

            assert (await live.notification()).id == during
            after = await create(committed, alice, rating=5)
            assert (await live.notification()).id == after
        assert len(await admin.fetch(listeners, database, stream.LISTEN_APPLICATION)) == 1
    finally:
        await admin.close()


async def _open_streams(url: str) -> float:
    async with httpx.AsyncClient(base_url=url, timeout=WAIT_S) as http:
        scrape = (await http.get("/metrics")).text
    (line,) = [line for line in scrape.splitlines() if line.startswith("ftw_notification_streams ")]
    return float(line.split()[1])


async def _until_open_streams(url: str, count: int) -> None:
    """Wait (at most WAIT_S) until the server counts ``count`` open streams."""
    for _ in range(int(WAIT_S / 0.1)):
        if await _open_streams(url) == count:
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"{await _open_streams(url)} streams open, not {count}")


async def test_open_streams_are_counted_and_a_users_third_stream_closes_the_first(server: Served) -> None:
    alice = await signed_up(server.url)
    await _until_open_streams(server.url, 0)
    async with opened(server.url, alice.headers) as first, opened(server.url, alice.headers):
        assert await _open_streams(server.url) == 2
        async with opened(server.url, alice.headers):  # max_per_user is 2
            await first.end()  # closed by the server
            assert await _open_streams(server.url) == 2
    await _until_open_streams(server.url, 0)  # clients that leave are noticed


async def test_the_stream_ends_when_the_access_token_expires(server: Served) -> None:
    alice = await signed_up(server.url)
    expires = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)  # exp is in seconds
    claims = {"sub": str(alice.id), "role": "homeowner", "pro": False, "exp": expires, "typ": "access"}
    token = jwt.encode(claims, DEV_SECRET, algorithm="HS256")
    async with opened(server.url, {"Authorization": f"Bearer {token}"}) as short_lived:
        rest = await short_lived.end()
    assert all(block.id is None for block in rest)
    assert datetime.now(UTC) >= expires


async def test_a_stop_signal_ends_open_streams_at_once(stream_database: str, tmp_path: Path) -> None:
    # A server of its own, which waits up to a minute for open requests when stopping.
    stopping = serve(
        stream_database, tmp_path / "stopping", workers=1, **SERVER_ENV, FTW_GRACEFUL_TIMEOUT_S="60"
    )
    try:
        alice = await signed_up(stopping.url)
        async with opened(stopping.url, alice.headers) as live:
            stopping.process.send_signal(signal.SIGTERM)
            await live.end()
        exit_code = await asyncio.wait_for(asyncio.to_thread(stopping.process.wait), WAIT_S)
        assert exit_code == 128 + signal.SIGTERM
    finally:
        stopping.stop()


# -- in the test's transaction -----------------------------------------------------------------


async def test_anonymous_and_bad_callers_are_refused(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    anonymous = await client.get(PATH)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    forged = await client.get(PATH, headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 401
    alice = await sign_up()
    bad_id = await client.get(PATH, headers={**alice.headers, "Last-Event-ID": "yesterday"})
    assert bad_id.status_code == 422
    assert bad_id.json()["errors"][0]["field"].endswith("last-event-id")


@pytest.fixture
def hub() -> stream.Hub:
    return stream.Hub(StreamSettings(heartbeat_s=30, max_per_user=2), page_size=3)


async def test_the_hub_wakes_only_the_streams_of_the_user_named(hub: stream.Hub) -> None:
    with hub.subscription(1) as alice, hub.subscription(1) as alice_again, hub.subscription(2) as bob:
        hub.announce(1, 10)
        assert await alice.wait(1)
        assert await alice_again.wait(1)
        assert not await bob.wait(0.01)
        assert alice.take() == ([10], False)
        for notification_id in (11, 12, 13, 14):  # more than a page: re-read instead
            hub.announce(1, notification_id)
        assert alice.take() == ([], True)
        with hub.subscription(1):  # a third stream of the user closes its oldest
            assert alice.closed
            assert not alice_again.closed
        assert hub.open_streams == 2
    assert hub.open_streams == 0


async def test_the_stream_replays_then_sends_what_is_announced(
    hub: stream.Hub, database: Database, session: AsyncSession, sign_up: SignUp
) -> None:
    alice = await sign_up()
    before = [
        (await notify(session, user_id=alice.id, kind="review.new", payload={"n": n})).id for n in range(5)
    ]
    events = stream.events(
        hub,
        database.sessions,
        user_id=alice.id,
        expires_at=datetime.now(UTC) + timedelta(minutes=5),
        last_event_id=before[0],
    )
    assert await anext(events) == f"retry: {hub.settings.retry_ms}\n\n"
    replayed = await anext(events)  # at most a page (3), the newest, oldest first
    assert [int(line[4:]) for line in replayed.splitlines() if line.startswith("id: ")] == before[2:]

    hub.announce(alice.id, before[4])  # the notice of a replayed row, arriving late: not sent twice
    live = await notify(session, user_id=alice.id, kind="bid.new", payload={"job_id": 7})
    hub.announce(alice.id, live.id)
    (sent,) = await service.notifications_by_id(session=session, user_id=alice.id, ids=[live.id])
    assert await anext(events) == stream.frame(sent)

    unannounced = await notify(session, user_id=alice.id, kind="bid.new", payload={"job_id": 8})
    hub.notices_lost()  # what the hub does once its LISTEN connection is back
    assert f"id: {unannounced.id}\n" in await anext(events)
    hub.close()
    with pytest.raises(StopAsyncIteration):
        await anext(events)
    assert hub.open_streams == 0
