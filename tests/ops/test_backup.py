"""`ftw backup` and `ftw restore` against the real PostgreSQL server: a dump with a manifest,
and a restore into a fresh database that proves itself or refuses."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import boto3
import pytest
from moto import mock_aws
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from ftw.cli import app
from ftw.config import BackupSettings, Settings
from ftw.core import migrations
from ftw.core.db import sync_libpq_url
from ftw.ops.backup import (
    Backup,
    BackupError,
    read_manifest,
    restore,
    row_counts,
    sha256_of,
    take_backup,
)
from ftw.ops.seed import seed_population
from tests.conftest import SERVER_URL

TAG = f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


def _url(database: str) -> str:
    return make_url(SERVER_URL).set(database=database).render_as_string(hide_password=False)


async def _admin(sql: str) -> object:
    conn = await asyncpg.connect(sync_libpq_url(SERVER_URL))
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def _drop(database: str) -> None:
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


async def _counts(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(sync_libpq_url(url))
    try:
        return await row_counts(conn)
    finally:
        await conn.close()


@pytest.fixture
def target() -> Iterator[str]:
    """The URL of a database that does not exist yet; dropped afterwards."""
    name = f"ftw_restored_{TAG}"
    _drop(name)
    yield _url(name)
    _drop(name)


@pytest.fixture(scope="module")
def source() -> Iterator[str]:
    """A migrated database with a small seeded population."""
    name = f"ftw_backup_source_{TAG}"
    _drop(name)
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = _url(name)
    migrations.upgrade(url)
    settings = Settings(environment="test", database_url=url)
    asyncio.run(seed_population(url, settings, users=200, jobs=None, batch=5_000, random_seed=3))
    yield url
    _drop(name)


@pytest.fixture(scope="module")
def backup(source: str, tmp_path_factory: pytest.TempPathFactory) -> Backup:
    settings = Settings(environment="test", backup=BackupSettings(folder=tmp_path_factory.mktemp("backups")))
    return asyncio.run(take_backup(source, settings))


def _copy(backup: Backup, folder: Path) -> Path:
    shutil.copy(backup.manifest_path, folder)
    return Path(shutil.copy(backup.dump, folder))


def test_backup_and_restore_through_the_cli(source: str, target: str, tmp_path: Path) -> None:
    runner = CliRunner()
    taken = runner.invoke(app, ["backup", "--url", source, "--folder", str(tmp_path)])
    assert taken.exit_code == 0, taken.output
    (manifest_path,) = tmp_path.glob("*.json")
    manifest = read_manifest(manifest_path)
    dump = tmp_path / manifest.dump_file
    assert manifest.sha256 == sha256_of(dump)
    assert manifest.size_bytes == dump.stat().st_size
    assert manifest.alembic_revision == migrations.head_revision()
    assert manifest.row_counts == asyncio.run(_counts(source))
    assert manifest.row_counts["public.users"] == 200

    restored = runner.invoke(app, ["restore", str(dump), "--into", target])
    assert restored.exit_code == 0, restored.output
    assert "row counts of" in restored.output
    assert asyncio.run(_counts(target)) == manifest.row_counts


def test_restore_refuses_a_corrupted_dump(backup: Backup, target: str, tmp_path: Path) -> None:
    dump = _copy(backup, tmp_path)
    with dump.open("r+b") as file:
        file.seek(dump.stat().st_size // 2)
        byte = file.read(1)
        file.seek(-1, os.SEEK_CUR)
        file.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(BackupError, match="SHA-256"):
        asyncio.run(restore(str(dump), target, Settings(environment="test")))
    name = make_url(target).database
    assert asyncio.run(_admin(f"SELECT count(*) FROM pg_database WHERE datname = '{name}'")) == 0  # noqa: S608


def test_restore_refuses_a_database_that_holds_tables(backup: Backup, source: str) -> None:
    with pytest.raises(BackupError, match="restore into a fresh database"):
        asyncio.run(restore(str(backup.dump), source, Settings(environment="test")))


def test_restore_reports_rows_that_do_not_match_the_manifest(
    backup: Backup, target: str, tmp_path: Path
) -> None:
    dump = _copy(backup, tmp_path)
    manifest = read_manifest(dump.with_suffix(".json"))
    manifest.row_counts["public.users"] += 1
    dump.with_suffix(".json").write_text(manifest.model_dump_json())
    report = asyncio.run(restore(str(dump), target, Settings(environment="test")))
    assert not report.ok
    assert "✗ public.users: 200 rows, manifest says 201" in report.lines


def test_backups_go_to_s3_and_restore_from_there(
    source: str, target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings(
        environment="test",
        backup=BackupSettings(folder=tmp_path / "staging", s3_bucket="ftw-backups", s3_prefix="db/"),
    )
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket="ftw-backups")
        taken = asyncio.run(take_backup(source, settings))
        assert taken.uploaded_to == [
            f"s3://ftw-backups/db/{taken.manifest.name}.dump",
            f"s3://ftw-backups/db/{taken.manifest.name}.json",
        ]
        shutil.rmtree(tmp_path / "staging")  # the machine that took it is gone
        report = asyncio.run(restore(taken.uploaded_to[0], target, settings))
    assert report.ok, report.lines
    assert asyncio.run(_counts(target)) == taken.manifest.row_counts
