"""The restore drill: point-in-time recovery from a base backup and archived WAL, for real.

A throwaway PostgreSQL cluster with WAL archiving is migrated and seeded, base-backed-up,
then written to (batch A, committed before the recovery target T), then damaged after T
(batch B and a `DELETE FROM jobs`: the bad deploy the drill recovers from). The cluster is
destroyed; the base backup plus the WAL archive are recovered to T. Everything committed
at or before T must be back, row for row, and nothing after it.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from ftw.config import Settings
from ftw.core import migrations
from ftw.ops.backup import row_counts
from ftw.ops.seed import seed_population
from tests.deploy.tools import as_postgres, free_port, give_to_postgres, postgres_dir, run
from tests.support.clusters import Cluster, fetch, pg_bin, wait_until

BATCH = 1_000


@pytest.fixture
def drill_dir() -> Iterator[Path]:
    with postgres_dir("ftw-drill-") as root:
        yield root


async def _counts(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        return await row_counts(conn)
    finally:
        await conn.close()


def test_point_in_time_recovery_loses_nothing_committed_before_the_target(drill_dir: Path) -> None:
    archive, base = drill_dir / "wal-archive", drill_dir / "base"
    archive.mkdir()
    primary = Cluster(drill_dir / "primary", free_port(), drill_dir)
    restored = Cluster(drill_dir / "restored", free_port(), drill_dir)
    give_to_postgres(drill_dir)
    try:
        primary.initdb(
            wal_level="replica",
            archive_mode="on",
            archive_command=f"test ! -f {archive}/%f && cp %p {archive}/%f",
        )
        primary.start()
        asyncio.run(fetch(primary.url.replace("/ftw", "/postgres"), "CREATE DATABASE ftw"))
        migrations.upgrade(primary.url)
        settings = Settings(environment="test", database_url=primary.url)
        asyncio.run(
            seed_population(
                primary.url, settings, users=300, jobs=None, batch=5_000, random_seed=7, marketplace=False
            )
        )

        started = time.perf_counter()
        backup = [
            str(pg_bin() / "pg_basebackup"),
            "-D",
            str(base),
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
        ]
        result = run(as_postgres([*backup, "-U", "postgres", "-X", "stream", "-c", "fast"]))
        assert result.returncode == 0, result.stderr
        base_seconds = time.perf_counter() - started

        # Batch A after the base backup: only the archived WAL can bring it back.
        marks = "CREATE TABLE drill_marks (id bigserial PRIMARY KEY, batch text NOT NULL)"
        asyncio.run(fetch(primary.url, marks))
        insert = "INSERT INTO drill_marks (batch) SELECT '{}' FROM generate_series(1, {})"
        asyncio.run(fetch(primary.url, insert.format("A", BATCH)))
        target = asyncio.run(fetch(primary.url, "SELECT clock_timestamp()"))
        at_target = asyncio.run(_counts(primary.url))

        # After T: more writes, then the incident.
        asyncio.run(fetch(primary.url, insert.format("B", BATCH)))
        asyncio.run(fetch(primary.url, "DELETE FROM jobs"))
        segment = asyncio.run(fetch(primary.url, "SELECT pg_walfile_name(pg_switch_wal())"))
        archived = f"SELECT last_archived_wal >= '{segment}' FROM pg_stat_archiver"  # noqa: S608
        asyncio.run(wait_until(primary.url, archived, 30))
        primary.crash()
        shutil.rmtree(primary.data)

        started = time.perf_counter()
        shutil.copytree(base, restored.data)
        restored.configure(
            port=str(restored.port),
            archive_mode="off",
            restore_command=f"cp {archive}/%f %p",
            recovery_target_time=str(target),
            recovery_target_action="promote",
        )
        (restored.data / "recovery.signal").touch()
        give_to_postgres(restored.data)
        restored.data.chmod(0o700)
        restored.start()
        asyncio.run(wait_until(restored.url, "SELECT NOT pg_is_in_recovery()", 60))
        restore_seconds = time.perf_counter() - started

        after = asyncio.run(_counts(restored.url))
        batches = asyncio.run(fetch(restored.url, "SELECT string_agg(DISTINCT batch, ',') FROM drill_marks"))
        lost = {t: n - after.get(t, 0) for t, n in at_target.items() if after.get(t, 0) != n}
        size = sum(p.stat().st_size for p in base.rglob("*") if p.is_file())
        wal = len(list(archive.iterdir()))
        print(  # the drill's figures, shown with pytest -s
            f"\nPITR drill: base backup {size / 1e6:.1f} MB in {base_seconds:.1f} s, {wal} WAL segments"
            f" archived; recovery to T in {restore_seconds:.1f} s; {sum(at_target.values()):,} rows at T,"
            f" rows lost: {sum(lost.values())}; jobs {after['public.jobs']:,} (deleted after T: restored)"
        )
        assert lost == {}
        assert after == at_target
        assert batches == "A"
        assert at_target["public.jobs"] > 0
    finally:
        for cluster in (primary, restored):
            if cluster.running:
                cluster.crash()
