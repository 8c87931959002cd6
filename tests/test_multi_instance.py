"""Two real API processes on one PostgreSQL and one Redis share rate limits and cache versions.

The processes commit what they write, so they get a database of their own (migrated here,
dropped afterwards) rather than the worker's test database.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy.engine import make_url

from tests.conftest import PASSWORD, migrated_database
from tests.support.market import JOB

REDIS_URL = "redis://127.0.0.1:6379/13"
FTW = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "ftw"
START_TIMEOUT_S = 90.0
AUTHENTICATED_PER_MINUTE = 8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def shared_database(database_url: str) -> Iterator[str]:
    name = make_url(database_url).database
    assert name is not None
    with migrated_database(name + "_multi") as url:
        yield url


@pytest.fixture
def instances(shared_database: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two `ftw serve` processes; always terminated, and their Redis keys deleted."""
    prefix = f"multi-{uuid.uuid4().hex}"
    env = {
        **os.environ,
        "FTW_DATABASE_URL": shared_database,
        "FTW_REDIS_URL": REDIS_URL,
        "FTW_REDIS_PREFIX": prefix,
        "FTW_DATA_DIR": str(tmp_path),
        "FTW_RATE_LIMITS__AUTHENTICATED": str(AUTHENTICATED_PER_MINUTE),
        "FTW_SHUTDOWN_DELAY_S": "0",
        "FTW_GRACEFUL_TIMEOUT_S": "2",
        "FTW_POOL__MIN_SIZE": "2",
        "FTW_POOL__MAX_SIZE": "5",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    ports = [_free_port(), _free_port()]
    processes = [
        subprocess.Popen(  # noqa: S603 - our own command
            [str(FTW), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        deadline = time.monotonic() + START_TIMEOUT_S
        for base, process in zip(bases, processes, strict=True):
            while True:
                assert process.poll() is None, "ftw serve exited at start-up"
                assert time.monotonic() < deadline, "ftw serve did not become healthy in time"
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.3)
        yield bases[0], bases[1]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"*{prefix}*"):
            client.delete(key)
        client.delete("ftw:active_users")  # observability's tracker ignores the prefix
        client.close()


def test_rate_limits_and_cache_invalidation_hold_across_two_instances(instances: tuple[str, str]) -> None:
    a, b = (httpx.Client(base_url=base, timeout=10) for base in instances)
    with a, b:
        email = f"multi-{uuid.uuid4().hex[:8]}@example.com"
        signup = {"email": email, "password": PASSWORD, "full_name": "Multi Instance", "role": "homeowner"}
        assert a.post("/api/v1/auth/signup", json=signup | {"zip": "10001"}).status_code == 202
        login = b.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

        # Cache: B caches the county's first page, A posts a job, B shows it at once.
        browse = {"territory": "36061"}  # the county of the job's ZIP
        assert b.get("/api/v1/jobs", params=browse).json()["items"] == []
        assert b.get("/api/v1/jobs", params=browse).json()["items"] == []  # now from the cache
        posted = a.post("/api/v1/jobs", json=JOB, headers=headers)
        assert posted.status_code == 201, posted.text
        assert [j["id"] for j in b.get("/api/v1/jobs", params=browse).json()["items"]] == [
            posted.json()["id"]
        ]

        # Rate limit: one window of 8 a minute for the user, whichever instance answers.
        answers = [
            (a if i % 2 else b).get("/api/v1/me", headers=headers) for i in range(AUTHENTICATED_PER_MINUTE)
        ]
    assert [r.status_code for r in answers] == [200] * (AUTHENTICATED_PER_MINUTE - 1) + [
        429
    ]  # the post was 1
    assert [r.headers["RateLimit-Remaining"] for r in answers[:2]] == [
        str(AUTHENTICATED_PER_MINUTE - 2),
        str(AUTHENTICATED_PER_MINUTE - 3),
    ]
    assert all(r.headers["RateLimit-Limit"] == str(AUTHENTICATED_PER_MINUTE) for r in answers)
