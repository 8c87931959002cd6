"""An open-loop HTTP/1.1 load generator: requests leave on a Poisson schedule, whatever the
server's answers do.

A closed-loop tool (wrk, Locust) waits for an answer before sending the next request, so a
slow server is sent less and its queueing delay never shows (coordinated omission). Here each
request has an intended start time and its latency counts from it, so waiting for a free
connection or a backlog in the server is part of what is measured. Requests are pre-rendered
bytes on keep-alive connections, answers parsed with httptools: the generator spends tens of
microseconds per request, small against the server's milliseconds (the bench reports it).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import httptools

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Request:
    """One pre-rendered request and the statuses that count as an answer, not an error."""

    name: str
    raw: bytes
    ok: frozenset[int]


def render(
    method: str,
    path: str,
    *,
    host: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    name: str = "",
    ok: frozenset[int] = frozenset({200}),
) -> Request:
    """`method path` as HTTP/1.1 bytes with keep-alive."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    return Request(name or path, raw, ok)


@dataclass(frozen=True)
class Outcome:
    """What became of one request: its status (0 when none came) and times on the monotonic clock."""

    name: str
    intended: float
    done: float
    status: int
    error: str | None

    @property
    def latency_s(self) -> float:
        return self.done - self.intended


class _Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.answer: asyncio.Future[int] | None = None
        self.closed = False
        self.used = False
        self.received = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no asyncio.Transport subclass

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(exc)
            self.close()

    def on_message_complete(self) -> None:
        if not self.parser.should_keep_alive():
            self.close()
        if self.answer is not None and not self.answer.done():
            self.answer.set_result(self.parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(exc or ConnectionResetError("the server closed the connection"))

    def _fail(self, exc: BaseException) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(exc)

    def send(self, raw: bytes) -> asyncio.Future[int]:
        assert self.transport is not None
        self.answer = asyncio.get_running_loop().create_future()
        self.used, self.received = True, False
        self.transport.write(raw)
        return self.answer

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class OpenLoop:
    """Keep-alive connections to one server, shared by every step of a run.

    Requests take the longest-idle connection, and a run starts with `spread` of them open,
    as many clients would: the server's workers each get their share of connections, and so
    of requests (on a few hot connections, one worker would do most of the work).
    """

    def __init__(
        self,
        port: int,
        *,
        host: str = LOOPBACK,
        spread: int = 64,
        max_connections: int = 512,
        timeout_s: float = 10,
    ):
        self.host, self.port, self.timeout_s, self.spread = host, port, timeout_s, spread
        self.slots = asyncio.Semaphore(max(max_connections, spread))
        self.idle: deque[_Connection] = deque()

    async def _open(self) -> _Connection:
        _, protocol = await asyncio.get_running_loop().create_connection(_Connection, self.host, self.port)
        return protocol

    async def _connection(self) -> _Connection:
        while self.idle:
            connection = self.idle.popleft()
            if not connection.closed:
                return connection
        return await self._open()

    async def _fill(self) -> None:
        """Open connections until `spread` are idle (the server closes the ones idle too long)."""
        self.idle = deque(c for c in self.idle if not c.closed)
        missing = self.spread - len(self.idle)
        if missing > 0:
            self.idle.extend(await asyncio.gather(*(self._open() for _ in range(missing))))

    async def _exchange(self, request: Request) -> int:
        # A reused connection the server closed while it was idle fails before any byte comes
        # back; that request never reached the application, so it is sent once more on a new one.
        for attempt in (1, 2):
            connection = await self._connection()
            reused = connection.used
            try:
                status = await connection.send(request.raw)
            except (ConnectionError, OSError):
                if attempt == 1 and reused and not connection.received:
                    continue
                raise
            except asyncio.CancelledError:  # timed out: the late answer must not reach the next request
                connection.close()
                raise
            if not connection.closed:
                self.idle.append(connection)
            return status
        raise AssertionError("unreachable")

    async def send(self, request: Request, intended: float | None = None) -> Outcome:
        """Send one request (waiting for a free connection) and wait for its answer."""
        intended = time.monotonic() if intended is None else intended
        status, error = 0, None
        try:
            async with self.slots:
                status = await asyncio.wait_for(self._exchange(request), self.timeout_s)
            if status not in request.ok:
                error = f"status {status}"
        except TimeoutError:
            error = "timeout"
        except (ConnectionError, OSError, httptools.HttpParserError) as exc:
            error = type(exc).__name__
        return Outcome(request.name, intended, time.monotonic(), status, error)

    async def run(
        self, next_request: Callable[[], Request], *, rate: float, duration_s: float, seed: int = 0
    ) -> list[Outcome]:
        """Send requests at `rate` per second on average (Poisson arrivals) for `duration_s`, then
        wait for the ones in flight (at most the timeout); one outcome per request sent."""
        await self._fill()
        arrivals = random.Random(seed)
        outcomes: list[Outcome] = []
        in_flight: set[asyncio.Task[Outcome]] = set()

        def finished(task: asyncio.Task[Outcome]) -> None:
            in_flight.discard(task)
            outcomes.append(task.result())

        start = time.monotonic()
        end = start + duration_s
        due = start
        while True:
            due += arrivals.expovariate(rate)
            if due >= end:
                break
            wait = due - time.monotonic()
            if wait > 0.001:
                await asyncio.sleep(wait)
            task = asyncio.create_task(self.send(next_request(), due))
            in_flight.add(task)
            task.add_done_callback(finished)
        if in_flight:
            await asyncio.wait(in_flight)
        return outcomes

    def close(self) -> None:
        for connection in self.idle:
            connection.close()
        self.idle.clear()
