"""Measuring: `ftw loadtest`, `bench` and `screenshots`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ftw.cli.common import console, database_url, to_head
from ftw.cli.db import seed
from ftw.config import get_settings


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
    to_head(url)
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
