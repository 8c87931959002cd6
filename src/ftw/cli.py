"""The `ftw` command."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer
from rich.console import Console

from ftw.config import Settings, get_settings

app = typer.Typer(help="FairTradeWorker: run, migrate and seed the marketplace API.", no_args_is_help=True)
console = Console()


def database_url(settings: Settings) -> str:
    """The configured URL, or the embedded server's (started on demand under the data dir)."""
    if settings.database_url:
        return settings.database_url
    from ftw.core.embedded import start_embedded

    with console.status("Starting the embedded PostgreSQL under " + str(settings.data_dir / "pgdata")):
        return start_embedded(settings.data_dir)


def _migrate(url: str) -> None:
    from ftw.core import migrations

    migrations.upgrade(url)


@app.command()
def migrate() -> None:
    """Apply every migration up to head (loads the county list on first run)."""
    url = database_url(get_settings())
    _migrate(url)
    console.print("[green]✓[/] database at head")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    demo: Annotated[bool, typer.Option(help="Migrate and load a small demo data set if empty")] = False,
) -> None:
    """Run the API."""
    import uvicorn

    settings = get_settings()
    url = database_url(settings)
    if demo:
        _migrate(url)
        from ftw.ops.seed import seed_demo

        for line in asyncio.run(seed_demo(url, settings)):
            console.print(line)
    # Workers read the URL from the environment, so the embedded server is shared by all.
    os.environ["FTW_DATABASE_URL"] = url
    get_settings.cache_clear()
    base = f"http://{host}:{port}"
    console.print(f"[bold]FairTradeWorker API[/] on {base}  —  docs at {base}/docs")
    uvicorn.run(
        "ftw.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="warning"
    )


@app.command()
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
) -> None:
    """Load a synthetic population with COPY (400,000 users and a year of jobs in minutes)."""
    from ftw.ops.seed import seed_population

    settings = get_settings()
    url = database_url(settings)
    _migrate(url)
    asyncio.run(seed_population(url, settings, users=users, jobs=jobs, batch=batch, random_seed=random_seed))
