"""The embedded default: a private PostgreSQL from the pgserver wheel, migrated."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from ftw.core import migrations
from ftw.core.db import sync_libpq_url
from ftw.core.embedded import start_embedded


async def test_embedded_server_starts_migrates_and_holds_the_counties(tmp_path: Path) -> None:
    url = await asyncio.to_thread(start_embedded, tmp_path / "ftw")
    try:
        await asyncio.to_thread(migrations.upgrade, url)
        conn = await asyncpg.connect(sync_libpq_url(url))
        try:
            assert await conn.fetchval("SELECT count(*) FROM territories") == 3142
            assert await conn.fetchval("SHOW server_version_num") >= "150000"
        finally:
            await conn.close()
        # A second start finds the running server instead of initialising a new one.
        assert await asyncio.to_thread(start_embedded, tmp_path / "ftw") == url
    finally:
        from ftw.core.embedded import stop_embedded

        await asyncio.to_thread(stop_embedded, tmp_path / "ftw")
