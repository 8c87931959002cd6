"""The app's engine behind a real pgbouncer in transaction mode (the deploy file, started
by tests/deploy/test_pgbouncer.py's fixture): many clients share few server connections
with no prepared-statement clashes, and the configured statement timeout still holds."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ftw.app import create_app
from ftw.config import PoolSettings, Settings
from ftw.core.db import Database
from ftw.core.replicas import ReadKind
from tests.deploy.test_pgbouncer import pgbouncer  # noqa: F401 - the fixture

CLIENTS = 40  # more than the pool's 25 server connections


def _settings(settings: Settings, statement_timeout_s: float = 30.0) -> Settings:
    """Behind Debian's PgBouncer (1.18, no prepared statements in transaction mode)."""
    pool = PoolSettings(pooler="pgbouncer", statement_timeout_s=statement_timeout_s)
    return settings.model_copy(update={"pool": pool})


async def test_many_clients_share_server_connections_without_prepared_statement_clashes(
    pgbouncer: str,  # noqa: F811
    settings: Settings,
) -> None:
    settings = _settings(settings)
    db = Database.connect(f"{pgbouncer}/ftw", settings, pool_size=CLIENTS)

    select_n, count_in = (
        text("SELECT CAST(:n AS int)"),
        text("SELECT count(*) FROM territories WHERE state = :s"),
    )

    async def client(number: int) -> tuple[int, set[int]]:
        total, counts = 0, set()
        for step in range(10):  # the same parametrised statements, again and again
            async with db.session() as session:
                total += (await session.execute(select_n, {"n": number + step})).scalar_one()
            async with db.read_session(ReadKind.BROWSE) as session:
                counts.add((await session.execute(count_in, {"s": "NY"})).scalar_one())
        return total, counts

    try:
        results = await asyncio.gather(*(client(n) for n in range(CLIENTS)))
        app = create_app(settings, database=db)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            pages = await asyncio.gather(
                *(http.get("/api/v1/territories", params={"state": "NY", "limit": 5}) for _ in range(CLIENTS))
            )
    finally:
        await db.dispose()
    assert [total for total, _ in results] == [10 * n + 45 for n in range(CLIENTS)]
    assert len(set().union(*(counts for _, counts in results))) == 1
    assert {page.status_code for page in pages} == {200}
    assert len({tuple(t["fips"] for t in page.json()["items"]) for page in pages}) == 1


# One app instance's worth of parametrised queries, run in a process of its own.
INSTANCE = """
import asyncio, sys
from sqlalchemy import text
from ftw.config import PoolSettings, Settings
from ftw.core.db import Database

async def main(url: str, clients: int) -> None:
    settings = Settings(environment="test", pool=PoolSettings(pooler="pgbouncer"))
    db = Database.connect(url, settings, pool_size=10)
    query = text("SELECT CAST(:n AS int) + CAST(:step AS int) * 0")

    async def client(number: int) -> None:
        for step in range(10):
            async with db.session() as session:
                assert (await session.execute(query, {"n": number, "step": step})).scalar_one() == number

    try:
        await asyncio.gather(*(client(n) for n in range(clients)))
    finally:
        await db.dispose()

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def test_two_instances_share_the_server_connections_without_prepared_statement_clashes(
    pgbouncer: str,  # noqa: F811
) -> None:
    """Two app processes share pgbouncer's server connections. asyncpg numbers its
    statements per process, so their names could meet on one server connection; the
    engine names each statement with a uuid instead."""
    command = [sys.executable, "-c", INSTANCE, f"{pgbouncer}/ftw", str(CLIENTS)]
    instances = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(2)]  # noqa: S603
    for instance in instances:
        _, errors = instance.communicate(timeout=120)
        assert instance.returncode == 0, errors[-3_000:]


async def test_the_configured_statement_timeout_holds_through_pgbouncer(
    pgbouncer: str,  # noqa: F811
    settings: Settings,
) -> None:
    db = Database.connect(f"{pgbouncer}/ftw", _settings(settings, 0.5), pool_size=4)
    try:
        async with db.session() as session:
            # PgBouncer dropped the startup parameter; SET LOCAL in the transaction holds.
            assert (await session.execute(text("SHOW statement_timeout"))).scalar_one() == "500ms"
        with pytest.raises(DBAPIError, match="canceling statement due to statement timeout"):
            async with db.session() as session:
                await session.execute(text("SELECT pg_sleep(3)"))
        # SET LOCAL ends with its transaction: the shared server connections keep the
        # pool's own timeout (connect_query), so no other client inherits ours.
        async with db.engine.connect() as conn:
            for _ in range(10):
                async with conn.begin():
                    assert (await conn.execute(text("SHOW statement_timeout"))).scalar_one() == "30s"
    finally:
        await db.dispose()
