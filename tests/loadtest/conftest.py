"""A throwaway database with a small seeded population, shared by the load-test and bench tests."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest

from ftw.config import Settings
from ftw.core import migrations
from ftw.ops.seed import seed_population
from tests.ops.test_seed import _server, _url

USERS, JOBS = 200, 300


@pytest.fixture(scope="session")
async def seeded(settings: Settings) -> AsyncIterator[str]:
    """Migrated and seeded; the seeder commits on its own, so the database is dropped afterwards."""
    name = f"ftw_loadtest_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
    await _server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    try:
        await _server(f'CREATE DATABASE "{name}"')
        await asyncio.to_thread(migrations.upgrade, _url(name))
        await seed_population(_url(name), settings, users=USERS, jobs=JOBS, batch=200, random_seed=5)
        yield _url(name)
    finally:
        await _server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
