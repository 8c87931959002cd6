"""Logical backups: take, restore with verification, and retention.

A backup is two files side by side: ``<database>-<UTC time>.dump`` (pg_dump custom
format) and ``<database>-<UTC time>.json``, its manifest (size, SHA-256, server version,
Alembic revision, row count of every table). The row counts describe exactly what the
dump holds: a REPEATABLE READ transaction exports its snapshot, counts every table, and
pg_dump runs with ``--snapshot`` while that transaction stays open.

A restore goes into a fresh database and proves itself: the checksum before anything is
written, then the row counts against the manifest, the Alembic revision, and the money
ledger's reconciliation.

Point-in-time recovery between two dumps comes from WAL archiving (deploy/postgres,
docs/runbook.md), not from this module.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import BaseModel
from sqlalchemy.engine import make_url

from ftw.config import Settings
from ftw.core.db import sync_libpq_url

MANIFEST_FORMAT = 1
_STAMP = "%Y%m%dT%H%M%SZ"
_NAME = re.compile(r"^(?P<database>.+)-(?P<stamp>\d{8}T\d{6}Z)$")
_VERSION = re.compile(r"\(PostgreSQL\) (\d+)(?:\.(\d+))?")
_CHUNK = 1 << 20

Say = Callable[[str], None]


class BackupError(RuntimeError):
    """A backup or restore that cannot go on; the message says why."""


class Manifest(BaseModel):
    format: int = MANIFEST_FORMAT
    name: str
    database: str
    created_at: datetime
    server_version: str
    pg_dump_version: str
    alembic_revision: str | None
    dump_file: str
    size_bytes: int
    sha256: str
    dump_seconds: float
    row_counts: dict[str, int]

    @property
    def pg_dump_major(self) -> int:
        return int(self.pg_dump_version.split(".")[0])


@dataclass(frozen=True)
class Backup:
    dump: Path
    manifest_path: Path
    manifest: Manifest
    uploaded_to: list[str] = field(default_factory=list)


@dataclass
class RestoreReport:
    lines: list[str] = field(default_factory=list)
    ok: bool = True
    seconds: dict[str, float] = field(default_factory=dict)

    def passed(self, line: str) -> None:
        self.lines.append(f"✓ {line}")

    def failed(self, line: str) -> None:
        self.ok = False
        self.lines.append(f"✗ {line}")


@dataclass
class PruneReport:
    kept: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


# --- PostgreSQL client tools --------------------------------------------------------------


@dataclass(frozen=True)
class PgTool:
    path: Path
    version: str

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


def _tool_dirs() -> list[Path]:
    """Where client tools may be: the pgserver wheel (PostgreSQL 16, in every install of
    ftw, the container image included), Debian's versioned folders, then PATH."""
    dirs: list[Path] = []
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.submodule_search_locations:
        dirs.append(Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin")
    dirs.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin")))
    dirs.extend(Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p)
    return dirs


def _version_of(path: Path) -> str | None:
    try:
        out = subprocess.run(  # noqa: S603 - a PostgreSQL client tool found on this machine
            [str(path), "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(out)
    return f"{match.group(1)}.{match.group(2) or 0}" if match else None


def find_tool(name: str, at_least: int) -> PgTool:
    """The newest ``name`` (pg_dump, pg_restore) on this machine, of major version
    ``at_least`` or newer: pg_dump cannot dump a newer server, and pg_restore reads only
    archives written by its own version or older."""
    found: dict[Path, PgTool] = {}
    for folder in _tool_dirs():
        path = (folder / name).resolve()
        if path in found or not path.is_file() or not os.access(path, os.X_OK):
            continue
        version = _version_of(path)
        if version:
            found[path] = PgTool(path, version)
    if not found:
        raise BackupError(f"{name} not found (install postgresql-client or the pgserver wheel)")
    best = max(found.values(), key=lambda tool: tuple(int(p) for p in tool.version.split(".")))
    if best.major < at_least:
        raise BackupError(
            f"{name} {best.version} is older than PostgreSQL {at_least}; install a newer client"
        )
    return best


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The URL for a libpq tool without its password (given through PGPASSWORD instead,
    so it never shows in the process list), and that environment."""
    parsed = make_url(sync_libpq_url(url))
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return parsed.set(password=None).render_as_string(hide_password=False), env


async def _run(args: list[str], env: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        *args, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        tail = stderr.decode(errors="replace").strip()[-2_000:]
        raise BackupError(f"{Path(args[0]).name} failed (exit {process.returncode}): {tail}")


# --- What a database holds ----------------------------------------------------------------

_TABLES = """
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%'
ORDER BY 1
"""


async def row_counts(conn: asyncpg.Connection) -> dict[str, int]:
    """Exact row count of every user table, by qualified name."""
    counts: dict[str, int] = {}
    for table in await conn.fetch(_TABLES):
        counts[table[0]] = await conn.fetchval(f"SELECT count(*) FROM {table[0]}")  # noqa: S608 - quoted catalog names
    return counts


async def _alembic_revision(conn: asyncpg.Connection) -> str | None:
    if await conn.fetchval("SELECT to_regclass('public.alembic_version')") is None:
        return None
    revision: str | None = await conn.fetchval("SELECT version_num FROM alembic_version")
    return revision


async def _server_version(conn: asyncpg.Connection) -> tuple[str, int]:
    version_num = int(await conn.fetchval("SHOW server_version_num"))
    return f"{version_num // 10_000}.{version_num % 10_000}", version_num // 10_000


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- Taking a backup ----------------------------------------------------------------------


def _quiet(_: str) -> None:
    return None


async def take_backup(
    url: str, settings: Settings, *, folder: Path | None = None, say: Say = _quiet
) -> Backup:
    """Dump the database at ``url`` with a manifest into ``folder`` (default: the backup
    folder), then upload both to S3 when a bucket is configured.

    ``url`` must be a direct connection, not PgBouncer's transaction pool: the exported
    snapshot lives in a session.
    """
    folder = folder or settings.backup_path
    folder.mkdir(parents=True, exist_ok=True)
    dsn, env = _libpq(url)
    conn = await asyncpg.connect(sync_libpq_url(url))
    try:
        server_version, server_major = await _server_version(conn)
        pg_dump = find_tool("pg_dump", server_major)
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            database = await conn.fetchval("SELECT current_database()")
            created_at = datetime.now(UTC).replace(microsecond=0)
            name = f"{database}-{created_at.strftime(_STAMP)}"
            dump = folder / f"{name}.dump"
            if dump.exists():
                raise BackupError(f"{dump} exists already")
            say(f"Counting rows of {database}")
            counts = await row_counts(conn)
            revision = await _alembic_revision(conn)
            say(f"pg_dump {pg_dump.version} of {database} ({sum(counts.values()):,} rows)")
            partial = dump.with_suffix(".dump.part")
            started = time.perf_counter()
            try:
                await _run(
                    [
                        str(pg_dump.path),
                        "--format=custom",
                        f"--snapshot={snapshot}",
                        f"--file={partial}",
                        dsn,
                    ],
                    env,
                )
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
            dump_seconds = time.perf_counter() - started
    finally:
        await conn.close()

    say("Computing the checksum")
    digest = await asyncio.to_thread(sha256_of, partial)
    partial.replace(dump)
    manifest = Manifest(
        name=name,
        database=database,
        created_at=created_at,
        server_version=server_version,
        pg_dump_version=pg_dump.version,
        alembic_revision=revision,
        dump_file=dump.name,
        size_bytes=dump.stat().st_size,
        sha256=digest,
        dump_seconds=round(dump_seconds, 2),
        row_counts=counts,
    )
    manifest_path = folder / f"{name}.json"
    _write_atomically(manifest_path, manifest.model_dump_json(indent=2))
    backup = Backup(dump, manifest_path, manifest)
    if settings.backup.s3_bucket:
        say(f"Uploading to s3://{settings.backup.s3_bucket}/{settings.backup.s3_prefix}")
        backup.uploaded_to.extend(await asyncio.to_thread(_upload, backup, settings))
    return backup


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_suffix(path.suffix + ".part")
    partial.write_text(text)
    partial.replace(path)


def read_manifest(path: Path) -> Manifest:
    return Manifest.model_validate_json(path.read_text())


def list_backups(folder: Path) -> list[Manifest]:
    """The backups in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    manifests = [read_manifest(p) for p in folder.glob("*.json") if _NAME.match(p.stem)]
    return sorted(manifests, key=lambda m: m.created_at)


# --- S3 -------------------------------------------------------------------------------------


def _s3() -> Any:
    import boto3

    return boto3.client("s3")


def _upload(backup: Backup, settings: Settings) -> list[str]:
    client, bucket = _s3(), settings.backup.s3_bucket
    uploaded = []
    # The dump first: a manifest in the bucket always has its dump.
    for path in (backup.dump, backup.manifest_path):
        key = settings.backup.s3_prefix + path.name
        client.upload_file(str(path), bucket, key)
        uploaded.append(f"s3://{bucket}/{key}")
    return uploaded


def _download(uri: str, folder: Path) -> Path:
    """Fetch ``s3://bucket/prefix/name.dump`` (or its ``.json``) and its sibling; return the dump."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    base = key.rsplit(".", 1)[0]
    folder.mkdir(parents=True, exist_ok=True)
    client = _s3()
    for suffix in (".json", ".dump"):
        client.download_file(bucket, base + suffix, str(folder / Path(base + suffix).name))
    return folder / Path(base + ".dump").name


# --- Restoring ------------------------------------------------------------------------------


def locate(source: str, settings: Settings) -> tuple[Path, Path]:
    """The dump and manifest named by ``source``: a .dump or .json path, a backup name in
    the backup folder, or ``latest`` (the newest there)."""
    if source == "latest":
        backups = list_backups(settings.backup_path)
        if not backups:
            raise BackupError(f"no backups in {settings.backup_path}")
        source = backups[-1].name
    path = Path(source)
    if path.suffix not in (".dump", ".json"):
        path = settings.backup_path / f"{source}.dump"
    dump, manifest = path.with_suffix(".dump"), path.with_suffix(".json")
    for needed in (dump, manifest):
        if not needed.is_file():
            raise BackupError(f"{needed} not found")
    return dump, manifest


async def _prepare_target(into: str) -> None:
    """Create the target database if it does not exist; refuse one that holds tables."""
    target = make_url(sync_libpq_url(into))
    if not target.database:
        raise BackupError("--into needs a database name")
    try:
        conn = await asyncpg.connect(sync_libpq_url(target))
    except asyncpg.InvalidCatalogNameError:
        admin = await asyncpg.connect(sync_libpq_url(target.set(database="postgres")))
        try:
            quoted = '"' + target.database.replace('"', '""') + '"'
            await admin.execute(f"CREATE DATABASE {quoted}")
        finally:
            await admin.close()
        return
    try:
        tables = await conn.fetch(_TABLES)
    finally:
        await conn.close()
    if tables:
        raise BackupError(
            f"{target.database} is not empty ({len(tables)} tables): restore into a fresh database"
        )


async def restore(
    source: str, into: str, settings: Settings, *, jobs: int | None = None, say: Say = _quiet
) -> RestoreReport:
    """Restore a backup into a fresh database at ``into`` and verify it.

    ``source``: an ``s3://`` URI, a path, a backup name, or ``latest`` (see ``locate``).
    """
    report = RestoreReport()
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        report.seconds[phase] = round(now - clock, 2)
        clock = now

    if source.startswith("s3://"):
        say(f"Downloading {source}")
        dump = await asyncio.to_thread(_download, source, settings.backup_path / "restore")
        manifest_path = dump.with_suffix(".json")
        lap("download")
    else:
        dump, manifest_path = locate(source, settings)
    manifest = read_manifest(manifest_path)

    say(f"Checking the SHA-256 of {dump.name} ({manifest.size_bytes / 1e6:,.1f} MB)")
    digest = await asyncio.to_thread(sha256_of, dump)
    if digest != manifest.sha256:
        raise BackupError(f"{dump.name}: SHA-256 {digest} does not match the manifest's {manifest.sha256}")
    report.passed(f"checksum {digest[:16]}… matches the manifest")
    lap("checksum")

    await _prepare_target(into)
    conn = await asyncpg.connect(sync_libpq_url(into))
    try:
        _, target_major = await _server_version(conn)
    finally:
        await conn.close()
    pg_restore = find_tool("pg_restore", max(manifest.pg_dump_major, target_major))
    workers = jobs or min(os.cpu_count() or 1, 8)
    say(f"pg_restore {pg_restore.version} with {workers} jobs")
    dsn, env = _libpq(into)
    await _run(
        [
            str(pg_restore.path),
            "--exit-on-error",
            "--no-owner",
            "--no-privileges",
            f"--jobs={workers}",
            f"--dbname={dsn}",
            str(dump),
        ],
        env,
    )
    lap("pg_restore")

    conn = await asyncpg.connect(sync_libpq_url(into))
    try:
        say("ANALYZE (fresh planner statistics)")
        await conn.execute("ANALYZE")
        lap("analyze")
        say("Counting rows")
        restored = await row_counts(conn)
        revision = await _alembic_revision(conn)
    finally:
        await conn.close()
    _compare_counts(manifest.row_counts, restored, report)
    if revision == manifest.alembic_revision:
        report.passed(f"alembic revision {revision}")
    else:
        report.failed(f"alembic revision {revision}, manifest says {manifest.alembic_revision}")
    lap("row counts")

    if "public.ledger_entries" in restored:
        from ftw.billing.ledger import reconcile

        say("Reconciling the ledger")
        ledger = await reconcile(into, settings)
        report.lines.extend(ledger.lines)
        report.ok = report.ok and ledger.ok
        lap("ledger")
    else:
        report.lines.append("- ledger check skipped: this database has no ledger")
    return report


def _compare_counts(expected: dict[str, int], actual: dict[str, int], report: RestoreReport) -> None:
    wrong = {t: (n, actual.get(t)) for t, n in expected.items() if actual.get(t) != n}
    extra = sorted(set(actual) - set(expected))
    if wrong or extra:
        for table, (want, got) in sorted(wrong.items()):
            report.failed(f"{table}: {got} rows, manifest says {want}")
        for table in extra:
            report.failed(f"{table}: not in the manifest")
        return
    report.passed(f"row counts of {len(expected)} tables match ({sum(expected.values()):,} rows)")


# --- Retention ------------------------------------------------------------------------------


def _day(moment: datetime) -> date:
    return moment.date()


def _week(moment: datetime) -> tuple[int, int]:
    iso = moment.isocalendar()
    return iso.year, iso.week


def _month(moment: datetime) -> tuple[int, int]:
    return moment.year, moment.month


def backups_to_keep(moments: Iterable[datetime], *, daily: int, weekly: int, monthly: int) -> set[datetime]:
    """The backup times retention keeps: the newest backup of each of the ``daily`` most
    recent days that have one, likewise of the ``weekly`` most recent ISO weeks and the
    ``monthly`` most recent months.

    Periods are counted among those that have backups, not on the calendar, so a backup
    job that stopped for a month never lets pruning delete the last good backups.
    """
    newest_first = sorted(set(moments), reverse=True)
    keep: set[datetime] = set()
    for count, period in ((daily, _day), (weekly, _week), (monthly, _month)):
        seen: set[object] = set()
        for moment in newest_first:
            bucket = period(moment)
            if bucket in seen:
                continue
            if len(seen) == count:
                break
            seen.add(bucket)
            keep.add(moment)
    return keep


def _moment(name: str) -> tuple[str, datetime] | None:
    match = _NAME.match(name)
    if not match:
        return None
    return match["database"], datetime.strptime(match["stamp"], _STAMP).replace(tzinfo=UTC)


def _plan(names: Iterable[str], settings: Settings) -> tuple[list[str], list[str]]:
    """Split backup names into kept and deleted, retention applied per database."""
    by_database: dict[str, dict[datetime, str]] = {}
    for name in names:
        parsed = _moment(name)
        if parsed:
            by_database.setdefault(parsed[0], {})[parsed[1]] = name
    kept: list[str] = []
    deleted: list[str] = []
    policy = settings.backup
    for backups in by_database.values():
        keep = backups_to_keep(
            backups, daily=policy.keep_daily, weekly=policy.keep_weekly, monthly=policy.keep_monthly
        )
        for moment, name in sorted(backups.items()):
            (kept if moment in keep else deleted).append(name)
    return kept, deleted


def prune(settings: Settings, *, dry_run: bool = False) -> PruneReport:
    """Apply retention to the backup folder, and to the S3 prefix when a bucket is set."""
    report = PruneReport()
    folder = settings.backup_path
    names = [p.stem for p in folder.glob("*.dump")] if folder.is_dir() else []
    kept, deleted = _plan(names, settings)
    report.kept.extend(str(folder / n) for n in kept)
    for name in deleted:
        report.deleted.append(str(folder / name))
        if not dry_run:
            # The manifest first: a dump without a manifest is never mistaken for a backup.
            (folder / f"{name}.json").unlink(missing_ok=True)
            (folder / f"{name}.dump").unlink(missing_ok=True)
    if settings.backup.s3_bucket:
        _prune_s3(settings, report, dry_run=dry_run)
    return report


def _prune_s3(settings: Settings, report: PruneReport, *, dry_run: bool) -> None:
    client, bucket, prefix = _s3(), settings.backup.s3_bucket, settings.backup.s3_prefix
    names: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        names += [
            obj["Key"][len(prefix) : -len(".dump")]
            for obj in page.get("Contents", [])
            if obj["Key"].endswith(".dump")
        ]
    kept, deleted = _plan(names, settings)
    report.kept.extend(f"s3://{bucket}/{prefix}{n}" for n in kept)
    for name in deleted:
        report.deleted.append(f"s3://{bucket}/{prefix}{name}")
        if not dry_run:
            client.delete_objects(
                Bucket=bucket,
                Delete={"Objects": [{"Key": f"{prefix}{name}.json"}, {"Key": f"{prefix}{name}.dump"}]},
            )


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000:
            return f"{value:,.1f} {unit}"
        value /= 1000
    return f"{value:,.1f} TB"
