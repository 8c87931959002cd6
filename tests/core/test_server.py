"""`ftw serve --workers 2`: connections spread over both workers, and a dead worker is replaced."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil
import pytest

from ftw.core.server import listening_workers
from tests.ops.conftest import Served, serve

CONNECTIONS = 40


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[Served]:
    served = serve(database_url, tmp_path, workers=2, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    yield served
    served.stop()


def _workers(served: Served) -> list[psutil.Process]:
    return listening_workers(served.process.pid, urlsplit(served.url).port or 0)


def _wait_for_workers(served: Served, count: int) -> list[psutil.Process]:
    deadline = time.monotonic() + 60
    while len(workers := _workers(served)) < count:
        assert time.monotonic() < deadline, f"{len(workers)} workers listening"
        time.sleep(0.2)
    return workers


def test_new_connections_are_spread_over_the_workers(served: Served) -> None:
    workers = _wait_for_workers(served, 2)
    port = urlsplit(served.url).port
    assert port is not None
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(CONNECTIONS)]
    try:
        time.sleep(0.5)
        held = [
            sum(
                c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port for c in w.net_connections("tcp")
            )
            for w in workers
        ]
    finally:
        for client in clients:
            client.close()
    assert sum(held) == CONNECTIONS
    # A shared socket hands nearly all of a burst to one worker; per-worker listeners split it
    # by hash (either worker under 8 of 40 has a chance of about 1 in 10,000).
    assert min(held) >= 8, held


def test_a_worker_that_dies_is_replaced(served: Served) -> None:
    first = {w.pid for w in _wait_for_workers(served, 2)}
    os.kill(min(first), signal.SIGKILL)
    deadline = time.monotonic() + 60
    while True:
        now = {w.pid for w in _workers(served)}
        if len(now) == 2 and now != first:
            break
        assert time.monotonic() < deadline, now
        time.sleep(0.2)
    assert httpx.get(served.url + "/healthz", timeout=5).status_code == 200
