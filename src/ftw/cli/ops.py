"""Running the launch: `ftw doctor`, `capacity`, `cache warm`, `smoke`, `switch`, `maintenance`
and `incident`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ftw.cli.common import console, database_url
from ftw.config import Settings, get_settings


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
    from ftw.core.pagination import PageParams
    from ftw.jobs import service as jobs
    from ftw.jobs.schemas import JobFilters
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
                    listing = await territories.browse(
                        cache_=cache, session=session, settings=settings, state=None,
                        unclaimed=None, page=PageParams(cursor, page_size),
                    )  # fmt: skip
                    progress.advance(task)
                    cursor = listing.next_cursor
                    if cursor is None:
                        break
                for fips in hot:
                    await territories.detail(cache_=cache, session=session, settings=settings, fips=fips)
                    await jobs.browse_territory(
                        cache_=cache, session=session, filters=JobFilters(territory=fips),
                        page=PageParams(None, settings.jobs.page_size_default),
                    )  # fmt: skip
                    progress.advance(task, 2)
                return int(progress.tasks[0].completed)
    finally:
        await cache.aclose()
        await db.dispose()


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


def maintenance(
    state: Annotated[OnOff, typer.Argument(help="on: refuse writes with 503 and Retry-After; off: back")],
    message: Annotated[str | None, typer.Option(help="The banner and the 503's message")] = None,
) -> None:
    """Maintenance mode: writes refused (503, Retry-After), reads still served, a banner."""
    asyncio.run(_switch(get_settings(), "maintenance", state, message))


def incident(
    state: Annotated[OnOff, typer.Argument(help="on: show the message on /status and as a banner")],
    message: Annotated[
        str | None, typer.Option(help="What users are told, e.g. 'Text messages are delayed'")
    ] = None,
) -> None:
    """The incident notice on the public status page (/status) and the banner."""
    asyncio.run(_switch(get_settings(), "incident", state, message))
