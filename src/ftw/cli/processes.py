"""`ftw serve` and `ftw worker`: the two processes of the service."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
from types import FrameType
from typing import Annotated

import typer

from ftw.cli.common import console, database_url, refuse_sandboxes, to_head
from ftw.config import get_settings


def _require_migrated(url: str) -> None:
    """Refuse to serve a shared database this code cannot use yet: every request would fail."""
    from ftw.core import migrations

    try:
        revision = asyncio.run(migrations.revision_of(url))
    except Exception as exc:  # unreachable, refused, bad credentials: say which and stop
        console.print(f"[red]✗[/] cannot read the database's schema revision: {exc}", soft_wrap=True)
        raise typer.Exit(1) from exc
    if not migrations.schema_compatible(revision):
        console.print(
            f"[red]✗[/] the database is at revision {revision or 'none (never migrated)'}, this code"
            f" needs {migrations.head_revision()}: run `ftw migrate` first",
            soft_wrap=True,
        )
        raise typer.Exit(1)


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    demo: Annotated[bool, typer.Option(help="Migrate and load a small demo data set if empty")] = False,
) -> None:
    """Run the API; several workers each listen on their own SO_REUSEPORT socket.

    The embedded database is migrated first; a configured one behind the code's migrations
    is refused with a message naming `ftw migrate`."""
    import uvicorn

    from ftw.core import server

    settings = get_settings()
    if demo and settings.environment == "production":
        # The demo accounts' password is printed and published: never in production.
        console.print("[red]✗[/] --demo loads accounts with a published password: refused in production")
        raise typer.Exit(2)
    refuse_sandboxes(settings)
    url = database_url(settings)
    # Loading the migrations imports the code, and with it the metrics: with several workers
    # the supervisor keeps its own in memory, or a scrape would list it next to the workers.
    outside = os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None) if workers > 1 else None
    if demo or not settings.database_url:
        to_head(url)  # the embedded database is this app's alone: keep it at head
    else:
        _require_migrated(url)
    if demo:
        from ftw.ops.seed import seed_demo

        for line in asyncio.run(seed_demo(url, settings)):
            console.print(line)
    metrics_dir = None
    if outside:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = outside
    elif workers > 1:
        # The workers share one folder of metric files: a scrape of any of them reports all.
        metrics_dir = tempfile.mkdtemp(prefix="ftw-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    # Workers read the URL from the environment, so the embedded server is shared by all.
    os.environ["FTW_DATABASE_URL"] = url
    get_settings.cache_clear()
    base = f"http://{host}:{port}"
    console.print(f"[bold]FairTradeWorker API[/] on {base}  —  docs at {base}/docs")
    # uvicorn re-raises the SIGTERM it shut down for; exit through Python instead, so the
    # embedded PostgreSQL (stopped at exit) and the metrics folder are cleaned up.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        server.run(
            uvicorn.Config(
                "ftw.app:create_app",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level="warning",
                # The app reads X-Forwarded-For itself, only from FTW_TRUSTED_PROXIES
                # (core/ratelimit.py). uvicorn's own reading trusts 127.0.0.1 by default and
                # would let any local caller pick its address, and so its rate-limit budget.
                proxy_headers=False,
                # The app logs every request (core/observability.py); uvicorn's line is never
                # printed at "warning", but its arguments were still built per request.
                access_log=False,
                server_header=False,  # no "server: uvicorn" to fingerprint
                timeout_graceful_shutdown=int(settings.graceful_timeout_s),
            )
        )
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def worker(
    once: Annotated[bool, typer.Option(help="Drain the queue and the due schedules, then exit")] = False,
    concurrency: Annotated[int, typer.Option(help="Tasks run at once")] = 8,
) -> None:
    """Run the background worker: notifications, payment retries, invoice reminders, follow-ups."""
    from ftw.worker import run

    settings = get_settings()
    refuse_sandboxes(settings)
    asyncio.run(run(database_url(settings), settings, once=once, concurrency=concurrency))
