"""The database: `ftw migrate`, `seed`, `backup` (take, list, prune) and `restore`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from ftw.cli.common import console, database_url, to_head
from ftw.config import get_settings


def migrate() -> None:
    """Apply every migration up to head (loads the county list on first run)."""
    url = database_url(get_settings())
    to_head(url)
    console.print("[green]✓[/] database at head")


def seed(
    users: Annotated[
        int, typer.Option(help="Users to create (60% homeowners, 35% contractors, 5% operators)")
    ] = 1_000,
    jobs: Annotated[
        int | None, typer.Option(help="Jobs to create; default: a year of jobs scaled to users")
    ] = None,
    batch: Annotated[int, typer.Option(help="Rows per COPY batch")] = 20_000,
    random_seed: Annotated[
        int, typer.Option("--seed", help="Random seed, for a reproducible population")
    ] = 7,
    marketplace: Annotated[
        bool, typer.Option(help="Also fill bids, payments, messages, invoices and reviews of the jobs")
    ] = True,
) -> None:
    """Load a synthetic population with COPY (400,000 users and a year of jobs in minutes)."""
    from ftw.ops.seed import seed_population

    settings = get_settings()
    url = database_url(settings)
    to_head(url)
    asyncio.run(
        seed_population(
            url,
            settings,
            users=users,
            jobs=jobs,
            batch=batch,
            random_seed=random_seed,
            marketplace=marketplace,
        )
    )


backup_app = typer.Typer(help="Backups: take one (default), list them, prune them.")


@backup_app.callback(invoke_without_command=True)
def backup(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(help="Database to dump (default: the configured one); a direct URL, not PgBouncer"),
    ] = None,
    folder: Annotated[Path | None, typer.Option(help="Where to write (default: FTW_BACKUP__FOLDER)")] = None,
    prune: Annotated[bool, typer.Option(help="Apply retention afterwards")] = False,
) -> None:
    """Dump the database (pg_dump custom format) with a manifest: row counts, SHA-256, server
    version, Alembic revision. Also uploads to S3 when FTW_BACKUP__S3_BUCKET is set."""
    if ctx.invoked_subcommand is not None:
        return
    from ftw.ops.backup import human_size, take_backup

    settings = get_settings()
    source = url or database_url(settings)
    with console.status("Backing up") as status:
        taken = asyncio.run(take_backup(source, settings, folder=folder, say=status.update))
    manifest = taken.manifest
    console.print(
        f"[green]✓[/] {taken.dump}  {human_size(manifest.size_bytes)} in {manifest.dump_seconds:.1f} s, "
        f"{sum(manifest.row_counts.values()):,} rows in {len(manifest.row_counts)} tables, "
        f"revision {manifest.alembic_revision}, sha256 {manifest.sha256[:16]}…"
    )
    for uri in taken.uploaded_to:
        console.print(f"[green]✓[/] uploaded {uri}")
    if prune:
        backup_prune(dry_run=False)


@backup_app.command("list")
def backup_list() -> None:
    """The backups in the backup folder, oldest first."""
    from rich.table import Table

    from ftw.ops.backup import human_size, list_backups

    settings = get_settings()
    table = Table(title=str(settings.backup_path))
    for column in ("name", "size", "rows", "revision", "server"):
        table.add_column(column)
    for manifest in list_backups(settings.backup_path):
        rows = f"{sum(manifest.row_counts.values()):,}"
        table.add_row(
            manifest.name,
            human_size(manifest.size_bytes),
            rows,
            manifest.alembic_revision,
            manifest.server_version,
        )
    console.print(table)


@backup_app.command("prune")
def backup_prune(
    dry_run: Annotated[bool, typer.Option(help="Show what would be deleted, delete nothing")] = False,
) -> None:
    """Apply retention (daily 30, weekly 12, monthly 12) to the backup folder and S3 prefix."""
    from ftw.ops.backup import prune

    report = prune(get_settings(), dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    for name in report.deleted:
        console.print(f"{verb} {name}")
    console.print(f"kept {len(report.kept)}, {verb} {len(report.deleted)}")


def restore(
    backup: Annotated[
        str, typer.Argument(help="A .dump/.json path, a backup name, `latest`, or s3://bucket/key.dump")
    ],
    into: Annotated[str, typer.Option(help="URL of a fresh (empty or missing) database to restore into")],
    jobs: Annotated[int | None, typer.Option(help="pg_restore parallel jobs (default: CPUs, max 8)")] = None,
) -> None:
    """Restore a backup into a fresh database and verify it (exit 1 if a check fails).

    Checks: the SHA-256 before anything is written, then row counts against the manifest,
    the Alembic revision and the ledger reconciliation."""
    from ftw.ops.backup import restore as run_restore

    settings = get_settings()
    with console.status("Restoring") as status:
        report = asyncio.run(run_restore(backup, into, settings, jobs=jobs, say=status.update))
    for line in report.lines:
        console.print(line)
    timings = ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in report.seconds.items())
    console.print(f"{'[green]restored[/]' if report.ok else '[red]NOT VERIFIED[/]'} in {timings}")
    raise typer.Exit(0 if report.ok else 1)
