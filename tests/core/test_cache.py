"""The cache: stale-while-revalidate without stampedes, invalidation on writes, Redis outages."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import redis.asyncio as redis
from pydantic import BaseModel
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.app import create_app
from ftw.config import CacheTTL, Settings
from ftw.core import cache
from ftw.core.db import Database
from ftw.jobs.models import Job
from tests.conftest import SignUp
from tests.support.market import post_job
from tests.support.silent import silent_server

REDIS_URL = "redis://127.0.0.1:6379/13"
CLOSED_PORT_URL = "redis://127.0.0.1:1/0"


class Value(BaseModel):
    n: int


@asynccontextmanager
async def no_session() -> AsyncIterator[AsyncSession]:
    yield None  # type: ignore[misc]  # the loaders below take no database


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    name = f"test:{uuid.uuid4().hex}:"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    async for key in client.scan_iter(match=name + "*"):
        await client.delete(key)
    await client.aclose()


def make(backend: str, prefix: str, url: str = REDIS_URL) -> cache.Cache:
    store: cache.Backend = (
        cache.RedisBackend(url, prefix=prefix) if backend == "redis" else cache.MemoryBackend()
    )
    return cache.Cache(store, CacheTTL(), no_session)


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_fifty_requests_on_a_stale_key_get_it_at_once_and_one_refresh(
    backend: str, prefix: str
) -> None:
    c = make(backend, prefix)
    calls = 0
    release = asyncio.Event()

    async def loader(_: AsyncSession) -> Value:
        nonlocal calls
        calls += 1
        await release.wait()  # the refresh is slow: nobody may wait for it
        return Value(n=2)

    expired = time.time() - 1  # soft expiry passed, still within the hard expiry
    await c.backend.set("job_listings:hot", cache._pack(cache.Entry(expired, 0, b'{"n": 1}')), 60)
    session = await no_session().__aenter__()
    results = await asyncio.gather(
        *(c.fetch("job_listings", "hot", Value, loader, session=session) for _ in range(50))
    )
    assert {r.n for r in results} == {1}  # everyone served the stale value at once
    release.set()
    await asyncio.gather(*c._refreshing)
    assert calls == 1
    assert (await c.fetch("job_listings", "hot", Value, loader, session=session)).n == 2
    assert calls == 1
    await c.aclose()


async def test_only_one_instance_refreshes_a_stale_key(prefix: str) -> None:
    """The refresh lock lives in Redis, so two processes sharing it refresh once between them."""
    one, two = make("redis", prefix), make("redis", prefix)
    calls = 0
    release = asyncio.Event()

    async def loader(_: AsyncSession) -> Value:
        nonlocal calls
        calls += 1
        await release.wait()
        return Value(n=2)

    await one.backend.set("live_stats:k", cache._pack(cache.Entry(time.time() - 1, 0, b'{"n": 1}')), 60)
    session = await no_session().__aenter__()
    await asyncio.gather(
        *(c.fetch("live_stats", "k", Value, loader, session=session) for c in (one, two) for _ in range(10))
    )
    release.set()
    await asyncio.gather(*one._refreshing, *two._refreshing)
    assert calls == 1
    await one.aclose()
    await two.aclose()


async def test_concurrent_misses_share_one_load() -> None:
    c = make("memory", "")
    calls = 0

    async def loader(_: AsyncSession) -> Value:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return Value(n=7)

    session = await no_session().__aenter__()
    results = await asyncio.gather(
        *(c.fetch("job_listings", "cold", Value, loader, session=session) for _ in range(20))
    )
    assert [r.n for r in results] == [7] * 20
    assert calls == 1


async def test_search_results_are_not_refreshed_when_stale(prefix: str) -> None:
    """Only listings and stats are served stale; other kinds reload once expired."""
    c = make("memory", prefix)
    await c.backend.set("search_results:k", cache._pack(cache.Entry(time.time() - 1, 0, b'{"n": 1}')), 60)

    async def loader(_: AsyncSession) -> Value:
        return Value(n=2)

    session = await no_session().__aenter__()
    assert (await c.fetch("search_results", "k", Value, loader, session=session)).n == 1
    assert not c._refreshing


async def test_redis_down_degrades_to_loading_every_time() -> None:
    c = make("redis", "down:", url=CLOSED_PORT_URL)
    calls = 0

    async def loader(_: AsyncSession) -> Value:
        nonlocal calls
        calls += 1
        return Value(n=calls)

    session = await no_session().__aenter__()
    assert (await c.fetch("job_listings", "k", Value, loader, session=session)).n == 1
    assert (await c.fetch("job_listings", "k", Value, loader, session=session)).n == 2
    versioned = await c.fetch("job_listings", "k", Value, loader, session=session, version="territory:36061")
    assert versioned.n == 3
    await c.bump("territory:36061")  # does not raise
    await c.aclose()


async def test_a_redis_that_never_answers_degrades_to_loading() -> None:
    calls = 0

    async def loader(_: AsyncSession) -> Value:
        nonlocal calls
        calls += 1
        return Value(n=calls)

    async with silent_server() as url:
        c = make("redis", "silent:", url=url)
        session = await no_session().__aenter__()
        async with asyncio.timeout(10):  # a hang fails the test instead of stalling it
            assert (await c.fetch("job_listings", "k", Value, loader, session=session)).n == 1
            await c.bump("territory:36061")  # does not raise
        await c.aclose()


def _app_client(settings: Settings, database: Database) -> httpx.AsyncClient:
    app = create_app(settings, database=database)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.mark.parametrize(
    "redis_url", [None, REDIS_URL, CLOSED_PORT_URL], ids=["memory", "redis", "redis-down"]
)
async def test_a_posted_job_shows_in_its_territory_browse_at_once(
    settings: Settings,
    database: Database,
    session: AsyncSession,
    sign_up: SignUp,
    prefix: str,
    redis_url: str | None,
) -> None:
    configured = settings.model_copy(
        update={"redis_url": redis_url, "redis_prefix": prefix.rstrip(":"), "cache_enabled": True}
    )
    async with _app_client(configured, database) as client:
        owner = await sign_up()
        first = await post_job(client, owner)
        browse = {"territory": "36061"}
        listed = await client.get("/api/v1/jobs", params=browse)
        assert first["id"] in [j["id"] for j in listed.json()["items"]]

        # A change written behind the API's back is not seen while the cached page lives ...
        await session.execute(
            update(Job).where(Job.id == first["id"]).values(title="Changed behind the back")
        )

        async def titles() -> dict[int, str]:
            page = (await client.get("/api/v1/jobs", params=browse)).json()["items"]
            return {j["id"]: j["title"] for j in page}

        expected = "Changed behind the back" if redis_url == CLOSED_PORT_URL else first["title"]
        assert (await titles())[first["id"]] == expected  # Redis down: straight from PostgreSQL

        # ... but a job posted through the API is, at once, with the rows before it.
        second = await post_job(client, owner, title="Broken garage door")
        listed_now = await titles()
        assert next(iter(listed_now)) == second["id"]
        assert listed_now[first["id"]] == "Changed behind the back"

        # Cancelling takes it out of the open listing at once as well.
        cancelled = await client.post(f"/api/v1/jobs/{second['id']}/cancel", headers=owner.headers)
        assert cancelled.status_code == 200, cancelled.text
        ids = [j["id"] for j in (await client.get("/api/v1/jobs", params=browse)).json()["items"]]
        assert second["id"] not in ids
