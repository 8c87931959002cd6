"""The `ftw` command."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

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


def _refuse_sandboxes(settings: Settings) -> None:
    from ftw.sandboxes import SandboxInProduction, refuse_sandboxes

    try:
        refuse_sandboxes(settings)
    except SandboxInProduction as refusal:
        console.print(f"[red]✗[/] {escape(str(refusal))}", soft_wrap=True)
        raise typer.Exit(1) from refusal


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


@app.command()
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
    _refuse_sandboxes(settings)
    url = database_url(settings)
    # Loading the migrations imports the code, and with it the metrics: with several workers
    # the supervisor keeps its own in memory, or a scrape would list it next to the workers.
    outside = os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None) if workers > 1 else None
    if demo or not settings.database_url:
        _migrate(url)  # the embedded database is this app's alone: keep it at head
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
                timeout_graceful_shutdown=int(settings.graceful_timeout_s),
            )
        )
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


@app.command()
def doctor(
    json_output: Annotated[bool, typer.Option("--json", help="Print the checks as JSON")] = False,
    report: Annotated[Path, typer.Option(help="The last load test's figures")] = Path(
        "reports/loadtest/latest.json"
    ),
    bench: Annotated[Path, typer.Option(help="The last `ftw bench` figures")] = Path(
        "reports/bench/latest.json"
    ),
) -> None:
    """Pre-launch readiness: configuration, database, indexes, Redis, breakers, vendors,
    alert rules, the last load test, launch capacity from the last bench. Each line ✓/⚠/✗
    with what to do; exit 1 on any ✗."""
    from ftw.ops import doctor as checks

    settings = get_settings()
    try:
        url: str | None = database_url(settings)
    except Exception as exc:  # the embedded server failed to start: the database check says so
        typer.echo(f"✗ the embedded PostgreSQL did not start: {exc}", err=True)
        url = None
    results = asyncio.run(checks.diagnose(settings, url, report=report, bench=bench))
    if json_output:
        print(checks.as_json(results))
    else:
        for line in checks.lines(results):
            console.print(line)
    raise typer.Exit(0 if checks.passed(results) else 1)


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
    marketplace: Annotated[
        bool, typer.Option(help="Also fill bids, payments, messages, invoices and reviews of the jobs")
    ] = True,
) -> None:
    """Load a synthetic population with COPY (400,000 users and a year of jobs in minutes)."""
    from ftw.ops.seed import seed_population

    settings = get_settings()
    url = database_url(settings)
    _migrate(url)
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


@app.command()
def loadtest(
    profile: Annotated[str, typer.Argument(help="smoke, load, stress, spike, day1 or full")],
    users: Annotated[int | None, typer.Option(help="Users (day1: the peak); default: the profile's")] = None,
    duration: Annotated[
        float | None, typer.Option(help="Seconds; default: the profile's, time-scaled")
    ] = None,
    time_scale: Annotated[float, typer.Option(help="Stretch (>1) or shrink (<1) the profile in time")] = 1.0,
    host: Annotated[str, typer.Option(help="The API under test")] = "http://127.0.0.1:8000",
    reports: Annotated[Path, typer.Option(help="Folder for the JSON and HTML reports")] = Path(
        "reports/loadtest"
    ),
) -> None:
    """Drive the three journeys with Locust; exit 1 when p95 > 1.5 s or failures > 1 %.

    Each simulated user sends an X-Forwarded-For address of its own: run the server under test
    with FTW_TRUSTED_PROXIES naming this machine, or all sign-ins share one anonymous limit."""
    from ftw.loadtest import INSTALL_TOOLS, missing_tools

    if missing := missing_tools():
        needs = ", ".join(missing)
        console.print(f"[red]✗[/] `ftw loadtest` needs {needs}: {escape(INSTALL_TOOLS)}", soft_wrap=True)
        raise typer.Exit(2)
    from ftw.loadtest.profiles import PROFILES
    from ftw.loadtest.runner import run

    if profile not in PROFILES:
        raise typer.BadParameter(f"choose one of {', '.join(PROFILES)}", param_hint="PROFILE")
    settings = get_settings()
    try:
        with console.status(f"Load test {profile} against {host}"):
            summary, report = run(
                PROFILES[profile], database_url=database_url(settings), host=host,
                targets=settings.performance, users=users, duration_s=duration, time_scale=time_scale,
                reports=reports,
            )  # fmt: skip
    except RuntimeError as exc:  # no seeded accounts, or Locust itself failed
        console.print(f"[red]✗[/] {exc}")
        raise typer.Exit(2) from exc
    mark = "[green]✓[/]" if summary.passed else "[red]✗[/]"
    console.print(
        f"{mark} {summary.requests:,} requests, {summary.rps:g}/s: p50 {summary.p50_ms:g} ms,"
        f" p95 {summary.p95_ms:g} ms, errors {summary.error_percent:g} %"
        f" (limits: p95 {summary.max_p95_ms:g} ms, errors {summary.max_error_percent:g} %)"
    )
    console.print(f"  {report}  ·  {summary.html}")
    raise typer.Exit(0 if summary.passed else 1)


@app.command()
def bench(
    users: Annotated[int, typer.Option(help="Seed this many users first if the database is empty")] = 400_000,
    workers: Annotated[int, typer.Option(help="Server worker processes (one per core)")] = 2,
    p95_ms: Annotated[float, typer.Option(help="The p95 a rate must keep to count as held")] = 100.0,
    step_seconds: Annotated[float, typer.Option(help="Measured seconds per rate")] = 20.0,
    mix_start: Annotated[float | None, typer.Option(help="First launch-mix rate (requests/s)")] = None,
    bare_start: Annotated[float | None, typer.Option(help="First bare-endpoint rate (requests/s)")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Rates tried per search, at most")] = None,
    connections: Annotated[
        int, typer.Option(help="Then hold this many live notification streams while the mix runs")
    ] = 0,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
    reports: Annotated[Path, typer.Option(help="Folder for the JSON reports")] = Path("reports/bench"),
) -> None:
    """Capacity of one machine: the launch mix open-loop at rising rates, then a bare endpoint.

    Per rate: achieved requests/s, p50/p95/p99, errors, CPU seconds per 1,000 requests of the
    app, PostgreSQL, Redis and the generator; the highest rate held at p95 <= --p95-ms with no
    errors. Writes reports/bench/latest.json, which `ftw capacity` sizes the fleet with."""
    import json

    from ftw.loadtest import bench as capacity_bench

    settings = get_settings()
    url = database_url(settings)
    _migrate(url)
    if asyncio.run(capacity_bench.seeded_users(url)) == 0:
        seed(users=users, jobs=None, batch=20_000, random_seed=7, marketplace=True)
    plan = capacity_bench.with_plan(
        capacity_bench.Plan(),
        workers=workers, p95_target_ms=p95_ms, step_s=step_seconds, mix_start_rps=mix_start,
        bare_start_rps=bare_start, max_steps=max_steps, connections=connections,
    )  # fmt: skip
    say = (lambda line: None) if json_output else (lambda line: console.print(f"  {line}"))
    try:
        report, path = capacity_bench.run(url, settings, plan, reports=reports, say=say)
    except RuntimeError as exc:  # an unseeded database, or the server did not start
        console.print(f"[red]✗[/] {exc}")
        raise typer.Exit(2) from exc
    if json_output:
        print(json.dumps(capacity_bench.summary(report, path), indent=2))
        return
    for line in capacity_bench.lines(report, path):
        console.print(line)


@app.command()
def capacity(
    users: Annotated[int | None, typer.Option(help="Registered users to size for")] = None,
    phase: Annotated[str | None, typer.Option(help="A growth phase: size for its maximum users")] = None,
    report: Annotated[Path, typer.Option(help="The load-test report to take requests per user from")] = Path(
        "reports/loadtest/latest.json"
    ),
    bench: Annotated[
        Path, typer.Option(help="The `ftw bench` report to take CPU, held rate and stream memory from")
    ] = Path("reports/bench/latest.json"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the inputs and plans as JSON")] = False,
) -> None:
    """Instances, database and Redis vCPUs, connections, memory, storage and monthly cost at peak;
    both growth plans by default."""
    import json
    from dataclasses import asdict

    from rich.table import Table

    from ftw.ops import capacity as planner

    settings = get_settings()
    phases = {p.name: p for p in settings.growth_phases}
    if phase is not None and phase not in phases:
        raise typer.BadParameter(f"choose one of {', '.join(phases)}", param_hint="--phase")
    try:
        inputs = planner.inputs_from(report, bench)
    except planner.ReportError as exc:
        console.print(f"[red]✗[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    if users is not None or phase is not None:
        size = users if users is not None else phases[str(phase)].max_users
        plans = {"requested": [planner.plan(size, settings, inputs, phase or "")]}
    else:
        plans = planner.growth_plans(settings, inputs)
    if as_json:
        plans_json = {title: [asdict(p) for p in rows] for title, rows in plans.items()}
        typer.echo(json.dumps({"inputs": inputs.as_json(), "plans": plans_json}, indent=2))
        return

    for name, label in planner.FIGURES.items():
        value = getattr(inputs, name)
        shown = "—" if value is None else f"{value:,.4g}" if value < 1_000 else f"{value:,.0f}"
        console.print(f"{label}: {shown}  ← {inputs.sources[name]}", markup=False, soft_wrap=True)

    def decided(p: planner.Plan) -> str:
        if p.instances_needed > p.instances:
            return f"{p.instances} (needs {p.instances_needed}, {p.bound})"
        return f"{p.instances} ({'minimum' if p.instances > p.instances_needed else p.bound})"

    # One row per figure, one column per phase: readable on an 80-column terminal.
    figures: tuple[tuple[str, Callable[[planner.Plan], str]], ...] = (
        ("users", lambda p: f"{p.users:,}"),
        ("DAU", lambda p: f"{p.dau:,}"),
        ("concurrent", lambda p: f"{p.concurrent:,}"),
        ("peak req/s", lambda p: f"{p.peak_rps:,.0f}"),
        ("instances", decided),
        ("DB vCPUs", lambda p: f"{p.database_vcpus:g}"),
        ("Redis vCPUs", lambda p: f"{p.redis_vcpus:g}"),
        ("stream MB/inst", lambda p: f"{p.stream_mb_per_instance:,.0f}"),
        ("app→PgBouncer", lambda p: f"{p.app_connections:,}"),
        ("PgBouncer→PG", lambda p: str(p.pgbouncer_server_connections)),
        ("Redis MB", lambda p: f"{p.redis_mb:,.0f}"),
        ("DB GB/year", lambda p: f"{p.database_gb_year:,.1f}"),
        ("media GB/year", lambda p: f"{p.media_gb_year:,.0f}"),
        ("$/month", lambda p: f"{p.monthly_cost:,.0f}"),
    )
    for title, rows in plans.items():
        table = Table(title=title)
        table.add_column("")
        for p in rows:
            table.add_column(p.label or f"{p.users:,} users", justify="right")
        for label, cell in figures:
            table.add_row(label, *(cell(p) for p in rows))
        console.print(table)
        for p in rows:
            for warning in p.warnings:
                console.print(f"[yellow]⚠[/] {p.label or p.users}: {warning}")


cache_app = typer.Typer(help="The read cache (Redis).", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


@cache_app.command("warm")
def cache_warm(
    territories: Annotated[
        int, typer.Option(help="Most populous counties whose first browse page is filled")
    ] = 500,
) -> None:
    """Fill the hot keys before launch: every territory list page, and the detail and first
    open-jobs page of the most populous counties."""
    settings = get_settings()
    if not settings.redis_url:
        console.print("[red]FTW_REDIS_URL is not set:[/] an in-process cache would end with this command")
        raise typer.Exit(1)
    keys = asyncio.run(_warm(settings, territories))
    console.print(f"[green]Warm:[/] {keys} keys filled or already fresh")


async def _warm(settings: Settings, top: int) -> int:
    from rich.progress import Progress
    from sqlalchemy import func, select

    from ftw.core.cache import build
    from ftw.core.db import Database
    from ftw.jobs import service as jobs
    from ftw.jobs.models import JobStatus
    from ftw.territories import service as territories
    from ftw.territories.models import Territory

    db = Database.connect(database_url(settings), settings, pool_size=4)
    cache = build(settings, db.session)
    page_size = 50  # the territory list's default page
    try:
        async with db.session() as session:
            counties = await session.scalar(select(func.count()).select_from(Territory)) or 0
            hot = list(
                await session.scalars(select(Territory.fips).order_by(Territory.population.desc()).limit(top))
            )
            with Progress(console=console) as progress:
                task = progress.add_task("Warming", total=-(-counties // page_size) + 2 * len(hot))
                cursor: str | None = None
                while True:
                    listing = await territories.page(
                        cache_=cache, session=session, settings=settings, state=None,
                        unclaimed=None, cursor=cursor, limit=page_size,
                    )  # fmt: skip
                    progress.advance(task)
                    cursor = listing.next_cursor
                    if cursor is None:
                        break
                for fips in hot:
                    await territories.detail(cache_=cache, session=session, settings=settings, fips=fips)
                    await jobs.browse_territory(
                        cache_=cache, session=session, territory=fips, status=JobStatus.OPEN, size=None,
                        trade=None, urgent=None, cursor=None, limit=settings.jobs.page_size_default,
                    )  # fmt: skip
                    progress.advance(task, 2)
                return int(progress.tasks[0].completed)
    finally:
        await cache.aclose()
        await db.dispose()


@app.command()
def smoke(
    url: Annotated[str, typer.Argument(help="The deployed API, e.g. https://api.fairtradeworker.com")],
    timeout: Annotated[float, typer.Option(help="Seconds the whole journey may take")] = 30.0,
) -> None:
    """Post-deploy check: throwaway accounts sign up, browse, post, bid and message, then are
    removed from the configured database; exit 1 if any step or the clean-up failed."""
    from ftw.ops.smoke import journey, remove

    settings = get_settings()
    run = asyncio.run(journey(url, timeout_s=timeout))
    for step in run.steps:
        mark = "[green]✓[/]" if step.ok else "[red]✗[/]"
        console.print(f"{mark} {step.name}  {step.ms:,.0f} ms  {escape(step.detail)}", soft_wrap=True)
    removed = asyncio.run(remove(run, database_url(settings), settings)) if run.users else 0
    cleaned = removed == len(run.users)
    if cleaned:
        console.print(f"[green]✓[/] removed the {removed} throwaway accounts and what they made")
    else:
        console.print(
            f"[red]✗[/] removed {removed} of {len(run.users)} throwaway accounts (ids {run.users}):"
            " run `ftw smoke` with the database of the service under test",
            soft_wrap=True,
        )
    raise typer.Exit(0 if run.ok and cleaned else 1)


class OnOff(StrEnum):
    ON = "on"
    OFF = "off"


async def _switch(settings: Settings, name: str | None, state: OnOff | None, message: str | None) -> None:
    import getpass

    from sqlalchemy import select

    import ftw.models  # noqa: F401  (every table: the audit entry's foreign key names users)
    from ftw.core import switches
    from ftw.core.db import Database

    db = Database.connect(database_url(settings), settings, pool_size=1)
    try:
        async with db.session() as session:
            if name is not None and state is not None:
                await switches.change(
                    session, name=switches.Name(name), on=state is OnOff.ON, message=message,
                    actor_id=None, via=f"cli:{getpass.getuser()}",
                )  # fmt: skip
            stored = {
                row.name: switches.State.of(row) for row in await session.scalars(select(switches.Switch))
            }
    finally:
        await db.dispose()
    for switch in (switches.Name(name),) if name else switches.Name:
        shown = stored.get(switch) or switches.State.default(switch)
        mark = "[green]on [/]" if shown.on else "[red]off[/]"
        console.print(f"{mark} {switch.value}" + (f"  — {escape(shown.message)}" if shown.message else ""))
    if state is not None:
        console.print(f"every instance obeys within {settings.switches.ttl_s:g} s")


@app.command()
def switch(
    name: Annotated[str | None, typer.Argument(help="A switch (see `ftw switch`); none: list them")] = None,
    state: Annotated[OnOff | None, typer.Argument(help="on or off; none: show the switch")] = None,
    message: Annotated[str | None, typer.Option(help="What users are told while it is off")] = None,
) -> None:
    """Turn a risky feature off (503 with the message) or back on; audit-logged. Without
    arguments, every switch and its state."""
    from ftw.core.switches import Name  # imported here: ftw.core.db creates the metrics

    if name is not None and name not in Name.__members__.values():
        raise typer.BadParameter(f"choose one of {', '.join(Name)}", param_hint="NAME")
    asyncio.run(_switch(get_settings(), name, state, message))


@app.command()
def maintenance(
    state: Annotated[OnOff, typer.Argument(help="on: refuse writes with 503 and Retry-After; off: back")],
    message: Annotated[str | None, typer.Option(help="The banner and the 503's message")] = None,
) -> None:
    """Maintenance mode: writes refused (503, Retry-After), reads still served, a banner."""
    asyncio.run(_switch(get_settings(), "maintenance", state, message))


@app.command()
def incident(
    state: Annotated[OnOff, typer.Argument(help="on: show the message on /status and as a banner")],
    message: Annotated[
        str | None, typer.Option(help="What users are told, e.g. 'Text messages are delayed'")
    ] = None,
) -> None:
    """The incident notice on the public status page (/status) and the banner."""
    asyncio.run(_switch(get_settings(), "incident", state, message))


ledger_app = typer.Typer(help="The money ledger.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")


@ledger_app.command("check")
def ledger_check() -> None:
    """Prove the ledger reconciles: every transaction sums to zero, no balance is negative,
    every captured payment and payout matches its entries. Exit 1 on any discrepancy."""
    from ftw.billing.ledger import reconcile

    settings = get_settings()
    report = asyncio.run(reconcile(database_url(settings), settings))
    for line in report.lines:
        console.print(line)
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Drain the queue and the due schedules, then exit")] = False,
    concurrency: Annotated[int, typer.Option(help="Tasks run at once")] = 8,
) -> None:
    """Run the background worker: notifications, payment retries, invoice reminders, follow-ups."""
    from ftw.worker import run

    settings = get_settings()
    _refuse_sandboxes(settings)
    asyncio.run(run(database_url(settings), settings, once=once, concurrency=concurrency))


backup_app = typer.Typer(help="Backups: take one (default), list them, prune them.")
app.add_typer(backup_app, name="backup")


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


@app.command()
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


@app.command()
def screenshots(
    url: Annotated[str, typer.Option(help="A running server (`make run`)")] = "http://127.0.0.1:8000",
    out: Annotated[Path, typer.Option(help="Folder for the PNGs and weights.json")] = Path(
        "docs/screenshots"
    ),
    admin_email: Annotated[
        str | None, typer.Option(help="An admin account's e-mail: adds /admin, and approves the operator")
    ] = None,
    admin_password: Annotated[str | None, typer.Option(envvar="FTW_SCREENSHOTS_ADMIN_PASSWORD")] = None,
) -> None:
    """Screenshots of the main pages at phone (390 px) and desktop (1280 px) widths, and each
    page's weight (HTML + CSS + JS as received, compressed, on an empty cache).

    Drives Debian's chromium (FTW_CHROMIUM to use another) with Playwright from the dev extra;
    signs up a homeowner and a contractor on the server, posts a job and bids on it."""
    from ftw.web.screenshots import capture

    admin = (admin_email, admin_password) if admin_email and admin_password else None
    shots = asyncio.run(capture(url.rstrip("/"), out, admin))
    budget = 150 * 1024
    for shot in shots:
        mark = "[green]ok[/]" if shot.weight_bytes <= budget else "[red]over 150 KB[/]"
        console.print(f"{shot.name:<20} {shot.weight_bytes / 1024:6.1f} KB  {mark}  {', '.join(shot.files)}")
    console.print(f"{len(shots) * 2} screenshots in {out}/")
    raise typer.Exit(0 if all(s.weight_bytes <= budget for s in shots) else 1)
