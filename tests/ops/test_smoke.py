"""`ftw smoke URL` against a running `ftw serve`: the journey passes and leaves nothing behind;
a switched-off step fails it (exit 1) and it still cleans up."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import pytest
from typer.testing import CliRunner

from ftw.cli import app
from ftw.config import get_settings
from ftw.core.db import sync_libpq_url
from tests.core.test_switches import _reset
from tests.ops.conftest import Served, serve


@pytest.fixture(scope="module")
def served(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    # Switches read at every write, so a switch changed by the test applies at once.
    instance = serve(database_url, tmp_path_factory.mktemp("smoke"), FTW_SWITCHES__TTL_S="0")
    yield instance
    instance.stop()


@pytest.fixture
def ftw(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("FTW_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


async def _smoke_rows(url: str) -> int:
    conn = await asyncpg.connect(sync_libpq_url(url))
    try:
        users = await conn.fetchval("SELECT count(*) FROM users WHERE email LIKE 'smoke-%'")
        jobs = await conn.fetchval("SELECT count(*) FROM jobs WHERE title LIKE 'Smoke test job%'")
        return int(users) + int(jobs)
    finally:
        await conn.close()


def test_smoke_walks_the_journeys_and_removes_its_accounts(
    served: Served, ftw: CliRunner, database_url: str
) -> None:
    result = ftw.invoke(app, ["smoke", served.url])
    assert result.exit_code == 0, result.output
    for step in ("sign up and sign in a contractor", "post a job", "bid on it", "message the homeowner"):
        assert f"✓ {step}" in result.output
    assert "✓ removed the 2 throwaway accounts" in result.output
    assert asyncio.run(_smoke_rows(database_url)) == 0


def test_smoke_fails_when_a_journey_breaks_and_still_cleans_up(
    served: Served, ftw: CliRunner, database_url: str
) -> None:
    try:
        assert ftw.invoke(app, ["switch", "job_posting", "off"]).exit_code == 0
        result = ftw.invoke(app, ["smoke", served.url])
    finally:
        asyncio.run(_reset(database_url))
    assert result.exit_code == 1
    assert "✗ post a job" in result.output
    assert "503" in result.output
    assert "bid on it" not in result.output  # stopped at the first failure
    assert asyncio.run(_smoke_rows(database_url)) == 0
