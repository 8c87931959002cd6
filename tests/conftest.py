"""Fixtures: a real PostgreSQL database per test worker, built by `alembic upgrade head`;
every test runs inside a transaction that is rolled back afterwards.

Set FTW_TEST_DATABASE_URL to use another server (default: the local one on 5432).
A missing server fails the run; nothing is skipped.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from ftw import hooks
from ftw.accounts.models import RefreshToken, User
from ftw.app import create_app
from ftw.config import PayoutRules, Settings
from ftw.core import migrations
from ftw.core.db import Database, create_engine, sync_libpq_url

SERVER_URL = os.environ.get("FTW_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "correct horse battery"


async def _recreate(database: str) -> None:
    conn = await asyncpg.connect(sync_libpq_url(SERVER_URL))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


async def _drop(database: str) -> None:
    conn = await asyncpg.connect(sync_libpq_url(SERVER_URL))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()


@contextmanager
def migrated_database(name: str) -> Iterator[str]:
    """A new database ``name`` on the test server, migrated to head, dropped when the block ends."""
    asyncio.run(_recreate(name))
    url = make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)
    migrations.upgrade(url)
    yield url
    asyncio.run(_drop(name))


@pytest.fixture(scope="session", autouse=True)
def installed_hooks() -> None:
    """The process's hooks, as create_app and the worker install them: tests call services
    and task handlers without either."""
    hooks.install()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh database for this test process, migrated to head, dropped afterwards.

    The name carries the xdist worker and the process id, so concurrent runs on one
    server never share a database.
    """
    with migrated_database(f"ftw_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}") as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("ftw")
    return Settings(
        environment="test",
        database_url=database_url,
        data_dir=data,
        media_dir=data / "media",
        rate_limits_enabled=False,
        # The cache refreshes in the background on its own session; every test request
        # shares one connection, so tests that exercise the cache turn it on themselves.
        cache_enabled=False,
        # Earnings are payable at once; tests of the holding period set it themselves.
        payouts=PayoutRules(hold_days=0),
    )


@pytest.fixture(scope="session")
async def engine(database_url: str, settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, settings, pool_size=4)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """The test's connection, inside a transaction that is always rolled back."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        yield conn
        await transaction.rollback()


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """A session for arranging and checking data directly; its commits are savepoints."""
    async with AsyncSession(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    ) as s:
        yield s


@pytest.fixture
def database(engine: AsyncEngine, connection: AsyncConnection) -> Database:
    """What the app uses: each request gets its own session on the test's connection."""
    sessions = async_sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return Database(engine, sessions)


@pytest.fixture
async def client(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database=database)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


@dataclass
class Account:
    id: int
    email: str
    role: str
    headers: dict[str, str]
    refresh_token: str


SignUp = Callable[..., Awaitable[Account]]


async def signed_up(
    client: httpx.AsyncClient,
    email: str,
    role: str = "homeowner",
    *,
    zip: str | None = "10001",
    **extra: object,
) -> Account:
    """Sign up through the API and log in; the account and its auth headers."""
    body = {"email": email, "password": PASSWORD, "full_name": f"Test {role.title()}", "role": role, **extra}
    if zip:
        body["zip"] = zip
    created = await client.post("/api/v1/auth/signup", json=body)
    assert created.status_code == 202, created.text
    tokens = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    pair = tokens.json()
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    if role in ("contractor", "operator"):  # earners: where their payouts go
        opened = await client.post("/api/v1/payouts/account", headers=headers)
        assert opened.status_code == 200, opened.text
    me = await client.get("/api/v1/me", headers=headers)
    return Account(
        id=me.json()["id"], email=email, role=role, headers=headers, refresh_token=pair["refresh_token"]
    )


async def approve_operator(database: Database, user_id: int) -> None:
    """What an admin's approval does (accounts.service.approve_operator), for arranging."""
    async with database.session() as session:
        await session.execute(
            update(User).where(User.id == user_id).values(operator_approved_at=datetime.now(UTC))
        )


async def outlive_refresh_grace(database: Database, settings: Settings) -> None:
    """Make every rotation older than the refresh grace window: a replay is then a replay."""
    async with database.session() as session:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.used_at.is_not(None))
            .values(used_at=RefreshToken.used_at - timedelta(seconds=settings.auth.refresh_grace_s + 1))
        )


@pytest.fixture
def sign_up(client: httpx.AsyncClient, database: Database) -> SignUp:
    """Sign up through the API and log in; returns the account and its auth headers.
    Operators come approved by an admin unless ``approved=False``."""
    counter = iter(range(1_000_000))

    async def make(
        role: str = "homeowner", *, zip: str | None = "10001", approved: bool = True, **extra: object
    ) -> Account:
        email = f"{role}{next(counter)}-{os.urandom(3).hex()}@example.com"
        account = await signed_up(client, email, role, zip=zip, **extra)
        if role == "operator" and approved:
            await approve_operator(database, account.id)
        return account

    return make


@pytest.fixture(scope="session")
def media_root(settings: Settings) -> Path:
    return settings.media_path


@pytest.fixture
async def admin(client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession) -> dict[str, str]:
    """An admin's headers: sign-up cannot create admins, so one is promoted in the database."""
    account = await sign_up("homeowner")
    await session.execute(update(User).where(User.id == account.id).values(role="admin"))
    tokens = await client.post("/api/v1/auth/login", json={"email": account.email, "password": PASSWORD})
    return {"Authorization": f"Bearer {tokens.json()['access_token']}"}
