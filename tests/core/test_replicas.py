"""Read routing against a real streaming replica: a throwaway primary on loopback and a
standby made from it with ``pg_basebackup -R``, both stopped and removed afterwards."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import httpx
import pytest
import redis.asyncio as redis
from sqlalchemy import text

from ftw.app import create_app
from ftw.config import ReplicaSettings, Settings
from ftw.core import migrations
from ftw.core.db import Database, ReadSession
from ftw.core.replicas import ReadKind, Replica, ReplicaSet
from tests.conftest import SignUp, signed_up
from tests.deploy.tools import free_port, give_to_postgres, postgres_dir
from tests.support.clusters import Cluster, fetch, wait_until
from tests.support.market import post_job

WHERE = text("SELECT pg_is_in_recovery(), inet_server_port()")


@dataclass
class Pair:
    primary: Cluster
    replica: Cluster


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    with postgres_dir("ftw-replica-") as root:
        primary = Cluster(root / "primary", free_port(), root)
        replica = Cluster(root / "replica", free_port(), root)
        give_to_postgres(root)
        try:
            primary.initdb(wal_level="replica")
            primary.start()
            asyncio.run(fetch(primary.url.replace("/ftw", "/postgres"), "CREATE DATABASE ftw"))
            migrations.upgrade(primary.url)
            primary.base_backup_into(replica)
            replica.start()
            yield Pair(primary, replica)
        finally:
            for cluster in (replica, primary):
                if cluster.running:
                    cluster.crash()


async def caught_up(pair: Pair) -> None:
    """Wait until the replica has replayed everything the primary has written so far."""
    lsn = await fetch(pair.primary.url, "SELECT pg_current_wal_lsn()::text")
    await wait_until(pair.replica.url, f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'", 30)


Connect = Callable[..., Awaitable[Database]]


@pytest.fixture
async def connect(pair: Pair) -> AsyncIterator[Connect]:
    """Databases routed over the pair; ``routing`` overrides ReplicaSettings fields."""
    made: list[Database] = []

    async def make(**routing: float) -> Database:
        replicas = ReplicaSettings(
            browse=[pair.replica.url], analytics=[pair.replica.url], probe_interval_s=0, **routing
        )
        settings = Settings(environment="test", database_url=pair.primary.url, replicas=replicas)
        made.append(Database.connect(pair.primary.url, settings, pool_size=2))
        await caught_up(pair)
        return made[-1]

    yield make
    for db in made:
        await db.dispose()


@pytest.fixture
async def database(connect: Connect) -> Database:
    """What the ``client`` fixture serves: the app over the pair, replica lag allowed."""
    return await connect(max_lag_s=3600)


async def _where(
    db: Database, kind: ReadKind = ReadKind.BROWSE, user_id: int | None = None
) -> tuple[bool, int]:
    async with db.read_session(kind, user_id=user_id) as session:
        in_recovery, port = (await session.execute(WHERE)).one()
    return in_recovery, port


async def test_reads_go_to_the_replica_sets_and_writes_to_the_primary(pair: Pair, connect: Connect) -> None:
    db = await connect()
    assert await _where(db, ReadKind.BROWSE) == (True, pair.replica.port)
    assert await _where(db, ReadKind.ANALYTICS) == (True, pair.replica.port)
    async with db.session() as session:
        assert tuple((await session.execute(WHERE)).one()) == (False, pair.primary.port)
        await session.execute(text("CREATE TABLE IF NOT EXISTS routed (id int)"))
    async with db.read_session(ReadKind.BROWSE) as session:
        assert isinstance(session, ReadSession)
        timeout = (await session.execute(text("SELECT current_setting('statement_timeout')"))).scalar_one()
    assert timeout == "30s"  # the configured timeout holds on replicas too


async def test_a_stopped_replica_is_skipped_then_probed_again(
    pair: Pair, connect: Connect, client: httpx.AsyncClient
) -> None:
    db = await connect(retry_after_s=0.5)
    replica = db.router.sets[ReadKind.BROWSE].replicas[0]  # type: ignore[union-attr]
    pair.replica.stop()
    try:
        assert await _where(db) == (False, pair.primary.port)
        assert replica.skip_until > time.monotonic()
        # The app keeps answering from the primary: no 500 while the replica is down.
        response = await client.get("/api/v1/jobs", params={"territory": "36061"})
        assert response.status_code == 200, response.text
    finally:
        pair.replica.start()
    await caught_up(pair)
    await asyncio.sleep(0.6)
    assert await _where(db) == (True, pair.replica.port)


async def test_a_lagging_replica_is_skipped_until_it_catches_up(pair: Pair, connect: Connect) -> None:
    db = await connect(max_lag_s=0.5, retry_after_s=0.2)
    assert await _where(db) == (True, pair.replica.port)
    await fetch(pair.replica.url, "SELECT pg_wal_replay_pause()")
    try:
        await fetch(pair.primary.url, "CREATE TABLE IF NOT EXISTS lagged (id int)")
        lsn = await fetch(pair.primary.url, "SELECT pg_current_wal_lsn()::text")
        await wait_until(pair.replica.url, f"SELECT pg_last_wal_receive_lsn() >= '{lsn}'", 30)
        await asyncio.sleep(0.6)  # the last replayed commit is now older than max_lag_s
        assert await _where(db) == (False, pair.primary.port)
        replica = db.router.sets[ReadKind.BROWSE].replicas[0]  # type: ignore[union-attr]
        assert replica.lag_s is not None
        assert replica.lag_s > 0.5
    finally:
        await fetch(pair.replica.url, "SELECT pg_wal_replay_resume()")
    await caught_up(pair)
    await asyncio.sleep(0.3)
    assert await _where(db) == (True, pair.replica.port)


async def test_a_writer_reads_its_own_writes_while_the_replica_is_paused(
    pair: Pair,
    client: httpx.AsyncClient,
    sign_up: SignUp,
    database: Database,
) -> None:
    owner = await sign_up()
    await caught_up(pair)
    await fetch(pair.replica.url, "SELECT pg_wal_replay_pause()")
    try:
        job = await post_job(client, owner, title="Xylophone room needs new drywall")

        async def search(headers: dict[str, str]) -> set[int]:
            # Search, not the territory browse: its listing cache would hide which server answered.
            params = {"q": "xylophone", "territory": "36061"}
            response = await client.get("/api/v1/jobs", params=params, headers=headers)
            assert response.status_code == 200, response.text
            return {j["id"] for j in response.json()["items"]}

        assert job["id"] in await search(owner.headers)  # the author: from the primary
        assert job["id"] not in await search({})  # others: from the paused replica
        assert await _where(database, user_id=owner.id) == (False, pair.primary.port)
        assert await _where(database) == (True, pair.replica.port)
    finally:
        await fetch(pair.replica.url, "SELECT pg_wal_replay_resume()")


async def test_a_writer_reads_its_own_writes_on_another_instance(
    pair: Pair, connect: Connect, tmp_path: Path
) -> None:
    """Two instances sharing Redis: a job posted through one is in its author's search on the
    other while the replica lags; the rate limiter's round trip carries the marker."""
    prefix = f"ryw-{uuid.uuid4().hex}"
    replicas = {"browse": [pair.replica.url], "analytics": [pair.replica.url], "probe_interval_s": 0}
    settings = Settings(
        environment="test", database_url=pair.primary.url, redis_url="redis://127.0.0.1:6379/12",
        redis_prefix=prefix, cache_enabled=False, data_dir=tmp_path, replicas={**replicas, "max_lag_s": 3600},
    )  # fmt: skip
    one, two = await connect(max_lag_s=3600), await connect(max_lag_s=3600)
    apps = [create_app(settings, database=db) for db in (one, two)]
    first, second = (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        for app in apps
    )
    try:
        owner = await signed_up(first, f"ryw-{uuid.uuid4().hex[:8]}@example.com")
        await caught_up(pair)
        await fetch(pair.replica.url, "SELECT pg_wal_replay_pause()")
        try:
            job = await post_job(first, owner, title="Quokka enclosure needs a new gate")
            params = {"q": "quokka", "territory": "36061"}
            mine = await second.get("/api/v1/jobs", params=params, headers=owner.headers)
            assert job["id"] in {j["id"] for j in mine.json()["items"]}  # the other instance: primary
            theirs = await second.get("/api/v1/jobs", params=params)
            assert job["id"] not in {j["id"] for j in theirs.json()["items"]}  # anyone else: replica
        finally:
            await fetch(pair.replica.url, "SELECT pg_wal_replay_resume()")
    finally:
        for client, app in zip((first, second), apps, strict=True):
            await client.aclose()
            await app.state.limiter.aclose()
            await app.state.cache.aclose()
        keys = redis.Redis.from_url("redis://127.0.0.1:6379/12")
        async for key in keys.scan_iter(match=f"{prefix}:*"):
            await keys.delete(key)
        await keys.aclose()


def test_each_set_is_used_round_robin() -> None:
    a, b, c = (cast(Replica, name) for name in "abc")  # stand-ins: only their order matters
    replica_set = ReplicaSet([a, b, c])
    assert [replica_set.rotation()[0] for _ in range(4)] == [a, b, c, a]
    assert replica_set.rotation() == [b, c, a]
