"""The open-loop generator against a tiny HTTP server whose speed and manners the test sets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from ftw.loadtest.generator import LOOPBACK, OpenLoop, Request, render


@dataclass
class Server:
    port: int
    delay_s: float = 0.0
    status: int = 200
    close_after_each: bool = False  # close the kept-alive connection once idle, without saying so
    requests: int = 0


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server(port=0)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                state.requests += 1
                await asyncio.sleep(state.delay_s)
                writer.write(f"HTTP/1.1 {state.status} X\r\nContent-Length: 2\r\n\r\nok".encode())
                await writer.drain()
                if state.close_after_each:
                    await asyncio.sleep(0.01)
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    listening = await asyncio.start_server(handle, LOOPBACK, 0)
    state.port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield state


def _ping(server: Server, ok: frozenset[int] = frozenset({200})) -> Callable[[], Request]:
    request = render("GET", "/ping", host=f"{LOOPBACK}:{server.port}", ok=ok)
    return lambda: request


async def test_it_sends_at_the_asked_rate_and_counts_every_answer(server: Server) -> None:
    loop = OpenLoop(server.port)
    outcomes = await loop.run(_ping(server), rate=200, duration_s=2)
    loop.close()
    assert 300 < len(outcomes) < 500  # Poisson: 400 on average
    assert server.requests == len(outcomes)
    assert all(o.status == 200 and o.error is None for o in outcomes)


async def test_latency_counts_from_the_intended_start_so_queueing_shows(server: Server) -> None:
    # One connection, 50 ms per answer, 40 requests/s asked: the server can only do 20/s,
    # so a closed-loop tool would report 50 ms. The backlog grows, and so do the latencies.
    server.delay_s = 0.05
    loop = OpenLoop(server.port, spread=1, max_connections=1)
    outcomes = await loop.run(_ping(server), rate=40, duration_s=2)
    loop.close()
    latencies = sorted(o.latency_s for o in outcomes)
    assert latencies[0] >= 0.05
    assert latencies[-1] > 0.5


async def test_statuses_outside_the_expected_ones_are_errors(server: Server) -> None:
    server.status = 503
    loop = OpenLoop(server.port)
    outcomes = await loop.run(_ping(server), rate=50, duration_s=0.5)
    tolerant = await loop.run(_ping(server, frozenset({200, 503})), rate=50, duration_s=0.5)
    loop.close()
    assert outcomes
    assert all(o.error == "status 503" for o in outcomes)
    assert tolerant
    assert all(o.error is None for o in tolerant)


async def test_a_connection_closed_while_idle_is_replaced_without_an_error(server: Server) -> None:
    server.close_after_each = True
    loop = OpenLoop(server.port, max_connections=4)
    outcomes = await loop.run(_ping(server), rate=20, duration_s=1.5)
    loop.close()
    assert len(outcomes) > 10
    assert [o.error for o in outcomes if o.error] == []


async def test_a_server_that_never_answers_times_out(server: Server) -> None:
    server.delay_s = 5
    loop = OpenLoop(server.port, timeout_s=0.3)
    outcomes = await loop.run(_ping(server), rate=10, duration_s=0.5)
    loop.close()
    assert outcomes
    assert all(o.error == "timeout" and o.status == 0 for o in outcomes)
