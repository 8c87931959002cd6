"""Retention: daily 30, weekly 12, monthly 12, as a pure function, then applied to a backup
folder and to an S3 prefix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from ftw.config import BackupSettings, Settings
from ftw.ops.backup import backups_to_keep, prune

NOW = datetime(2026, 11, 26, 3, 17, tzinfo=UTC)
POLICY = {"daily": 30, "weekly": 12, "monthly": 12}


def _nightly(days: int, *, until: datetime = NOW) -> list[datetime]:
    return [until - timedelta(days=n) for n in range(days)]


def test_a_year_of_nightly_backups_keeps_days_weeks_and_months() -> None:
    backups = _nightly(400)
    keep = backups_to_keep(backups, **POLICY)
    assert set(_nightly(30)) <= keep  # every one of the last 30 days
    weeks = {b.isocalendar()[:2] for b in keep}
    months = {(b.year, b.month) for b in keep}
    assert len(weeks) >= 12
    assert len(months) == 12
    # Outside the daily window, one backup per week or month: the newest of it.
    for kept in keep - set(_nightly(30)):
        same_week = [b for b in backups if b.isocalendar()[:2] == kept.isocalendar()[:2]]
        same_month = [b for b in backups if (b.year, b.month) == (kept.year, kept.month)]
        assert kept in (max(same_week), max(same_month))
    assert len(keep) < 30 + 12 + 12
    assert min(keep) > NOW - timedelta(days=366)


def test_only_the_newest_backup_of_a_day_counts() -> None:
    morning, evening = NOW.replace(hour=3), NOW.replace(hour=21)
    assert backups_to_keep([morning, evening], daily=1, weekly=0, monthly=0) == {evening}


def test_a_stalled_backup_job_never_lets_pruning_empty_the_folder() -> None:
    """Periods count among those that have backups: 30 old dailies survive a 100-day gap."""
    old = _nightly(60, until=NOW - timedelta(days=100))
    keep = backups_to_keep(old, **POLICY)
    assert set(old[:30]) <= keep


def test_nothing_to_keep_from_nothing() -> None:
    assert backups_to_keep([], **POLICY) == set()


def _settings(folder: Path, bucket: str | None = None) -> Settings:
    return Settings(
        environment="test", backup=BackupSettings(folder=folder, s3_bucket=bucket, s3_prefix="db/")
    )


def _name(database: str, moment: datetime) -> str:
    return f"{database}-{moment:%Y%m%dT%H%M%SZ}"


def test_prune_deletes_dump_and_manifest_per_database(tmp_path: Path) -> None:
    for database in ("ftw", "ftw_staging"):
        for moment in _nightly(45):
            for suffix in (".dump", ".json"):
                (tmp_path / f"{_name(database, moment)}{suffix}").write_text("")
    (tmp_path / "notes.txt").write_text("not a backup")

    dry = prune(_settings(tmp_path), dry_run=True)
    assert len(list(tmp_path.glob("*.dump"))) == 90  # a dry run deletes nothing

    report = prune(_settings(tmp_path))
    assert report.deleted == dry.deleted
    kept = {p.stem for p in tmp_path.glob("*.dump")}
    assert kept == {p.stem for p in tmp_path.glob("*.json")}
    for database in ("ftw", "ftw_staging"):
        expected = backups_to_keep(_nightly(45), **POLICY)
        assert {k for k in kept if k.startswith(f"{database}-2")} == {_name(database, m) for m in expected}
    assert (tmp_path / "notes.txt").exists()


def test_prune_applies_the_same_policy_to_s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="ftw-backups")
        for moment in _nightly(45):
            for suffix in (".dump", ".json"):
                s3.put_object(Bucket="ftw-backups", Key=f"db/{_name('ftw', moment)}{suffix}", Body=b"")
        prune(_settings(tmp_path, bucket="ftw-backups"))
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="ftw-backups")["Contents"]}
    expected = {_name("ftw", m) for m in backups_to_keep(_nightly(45), **POLICY)}
    assert keys == {f"db/{n}{suffix}" for n in expected for suffix in (".dump", ".json")}
