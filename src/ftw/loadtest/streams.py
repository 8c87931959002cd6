"""Hold many live notification streams open at once, from processes of their own.

A process may hold at most RLIMIT_NOFILE sockets (20,000 here, and not raisable without
privileges), so the streams are spread over several holder processes. Each opens its share at
a steady rate, reports once all are answered, keeps reading (heartbeats and events) until it
is told to stop, and then reports how many were still open.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as EventType
from typing import cast

import httptools
import uvloop

from ftw.loadtest.generator import LOOPBACK, render

PATH = "/api/v1/notifications/stream"


@dataclass(frozen=True)
class Held:
    """What one holder (or all of them, added up) saw."""

    opened: int = 0  # answered 200 with an event stream
    refused: int = 0  # could not connect, or answered something else
    dropped: int = 0  # answered 200, then closed by the server before the deadline
    open_at_deadline: int = 0  # still open when the holders were told to stop
    bytes_received: int = 0

    def __add__(self, other: Held) -> Held:
        return Held(
            self.opened + other.opened,
            self.refused + other.refused,
            self.dropped + other.dropped,
            self.open_at_deadline + other.open_at_deadline,
            self.bytes_received + other.bytes_received,
        )


class _Stream(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.status: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.open = False
        self.received = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no asyncio.Transport subclass
        self.open = True

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.close()

    def on_headers_complete(self) -> None:
        if not self.status.done():
            self.status.set_result(self.parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if not self.status.done():
            self.status.set_result(0)


async def _hold(
    port: int, tokens: list[str], open_per_s: float, reports: Queue[Held], stop: EventType, answer_s: float
) -> None:
    streams: list[_Stream] = []
    refused = 0
    loop = asyncio.get_running_loop()
    start = time.monotonic()
    for i, token in enumerate(tokens):
        wait = start + i / open_per_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        request = render("GET", PATH, host=f"{LOOPBACK}:{port}", headers={"Authorization": f"Bearer {token}"})
        try:
            _, stream = await loop.create_connection(_Stream, LOOPBACK, port)
        except OSError:
            refused += 1
            continue
        assert stream.transport is not None
        stream.transport.write(request.raw)
        streams.append(stream)
    statuses = await asyncio.gather(
        *(asyncio.wait_for(s.status, answer_s) for s in streams), return_exceptions=True
    )
    answered = [s for s, status in zip(streams, statuses, strict=True) if status == 200]
    refused += len(streams) - len(answered)
    reports.put(Held(opened=len(answered), refused=refused))
    await asyncio.to_thread(stop.wait)
    still_open = sum(s.open for s in answered)
    for stream in streams:
        if stream.transport is not None:
            stream.transport.close()
    reports.put(
        Held(
            opened=len(answered),
            refused=refused,
            dropped=len(answered) - still_open,
            open_at_deadline=still_open,
            bytes_received=sum(s.received for s in streams),
        )
    )


def _holder(
    port: int, tokens: list[str], open_per_s: float, reports: Queue[Held], stop: EventType, answer_s: float
) -> None:
    uvloop.run(_hold(port, tokens, open_per_s, reports, stop, answer_s))


class Holders:
    """Processes holding one stream per token against 127.0.0.1:`port`, opened at `open_per_s`
    in all; they keep reading until `close()`."""

    def __init__(
        self, port: int, tokens: list[str], *, holders: int, open_per_s: float, answer_s: float = 300
    ) -> None:
        spawn = multiprocessing.get_context("spawn")
        self.reports: Queue[Held] = spawn.Queue()
        self.stop = spawn.Event()
        self.processes = [
            spawn.Process(
                target=_holder,
                args=(port, tokens[i::holders], open_per_s / holders, self.reports, self.stop, answer_s),
            )
            for i in range(holders)
        ]
        for process in self.processes:
            process.start()
        self.timeout_s = len(tokens) / open_per_s + answer_s + 60

    def _collect(self) -> Held:
        return sum((self.reports.get(timeout=self.timeout_s) for _ in self.processes), Held())

    def opened(self) -> Held:
        """Blocks until every stream was answered (or refused, or not answered in time)."""
        return self._collect()

    def close(self) -> Held:
        """Close every stream; what was still open then."""
        self.stop.set()
        held = self._collect()
        for process in self.processes:
            process.join(30)
        return held
