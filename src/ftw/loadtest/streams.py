"""Hold many live notification streams open at once, from processes of their own.

A process may hold at most RLIMIT_NOFILE sockets (20,000 here, and not raisable without
privileges), so the streams are spread over several holder processes. Each opens its share at
a steady rate, keeps reading (heartbeats and events) until a common deadline, and reports how
many streams were answered 200 and were still open at the deadline.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
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
    open_at_deadline: int = 0
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


async def _hold(port: int, tokens: list[str], open_per_s: float, deadline: float) -> Held:
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
        *(asyncio.wait_for(s.status, 60) for s in streams), return_exceptions=True
    )
    answered = [s for s, status in zip(streams, statuses, strict=True) if status == 200]
    await asyncio.sleep(max(0.0, deadline - time.time()))
    still_open = sum(s.open for s in answered)
    for stream in streams:
        if stream.transport is not None:
            stream.transport.close()
    return Held(
        opened=len(answered),
        refused=refused + len(streams) - len(answered),
        dropped=len(answered) - still_open,
        open_at_deadline=still_open,
        bytes_received=sum(s.received for s in streams),
    )


def _holder(port: int, tokens: list[str], open_per_s: float, deadline: float) -> Held:
    return uvloop.run(_hold(port, tokens, open_per_s, deadline))


def hold(port: int, tokens: list[str], *, holders: int, open_per_s: float, deadline: float) -> Held:
    """Open one stream per token against 127.0.0.1:`port`, split over `holders` processes, at
    `open_per_s` in all; keep them until `deadline` (epoch seconds). Blocks until then."""
    shares = [tokens[i::holders] for i in range(holders)]
    with ProcessPoolExecutor(holders) as pool:
        futures = [pool.submit(_holder, port, share, open_per_s / holders, deadline) for share in shares]
        return sum((f.result() for f in futures), Held())
