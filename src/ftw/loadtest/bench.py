"""`ftw bench`: what one machine of the service holds, and what each request costs.

It starts `ftw serve` on a seeded database, drives the launch mix (mix.py) open-loop at rising
rates, and for each rate records the achieved rate, p50/p95/p99, errors, and the CPU seconds
the app's processes, PostgreSQL's and Redis spent per 1,000 requests (the generator's too, to
show it stayed small), beside the machine's speed during the step (`machine_ms`). The
highest rate held with p95 <= the target and no errors is the machine's capacity; the same
search on a bare endpoint (/healthz) gives the framework's ceiling on the same server settings.
Optionally it then holds N live notification streams while the mix runs at half the held rate,
and reports the server memory per stream.

The report (reports/bench/<time>.json and latest.json) is what `ftw capacity` sizes with.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import redis
import uvloop
from pydantic import SecretStr
from rich.table import Table

from ftw.config import Settings
from ftw.core.db import sync_libpq_url
from ftw.core.security import issue_access_token
from ftw.core.server import listening_workers, rarer_full_collections
from ftw.loadtest import mix as launch_mix
from ftw.loadtest import streams
from ftw.loadtest.generator import LOOPBACK, OpenLoop, Outcome, Request

REPORTS = Path("reports/bench")
GENERATOR = (
    "ftw.loadtest.generator: open-loop (Poisson arrivals, latency from the intended start), "
    "pre-rendered HTTP/1.1 on keep-alive connections, httptools parser, uvloop, one process"
)
# PostgreSQL connections kept free for the bench, the stream listeners and an operator's psql.
RESERVED_CONNECTIONS = 10


@dataclass(frozen=True)
class Plan:
    """How a bench run searches."""

    workers: int = 2
    p95_target_ms: float = 100.0
    step_s: float = 20.0
    warmup_s: float = 3.0  # at each step's rate, before it is measured
    first_warmup_s: float = 10.0  # before a search: fills caches and pools
    idle_cores: float = 0.25  # the app counts as settled below this much CPU
    mix_start_rps: float = 25.0
    bare_start_rps: float = 250.0
    growth: float = 1.5  # each step's rate over the previous one's
    refine: int = 2  # bisections between the last held and the first failed rate
    max_steps: int = 14
    connections: int = 0  # live notification streams to hold; 0 skips that part
    holders: int = 2
    open_per_s: float = 1_000.0


@dataclass(frozen=True)
class Step:
    """One rate's figures."""

    target_rps: float
    achieved_rps: float
    duration_s: float
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    cpu_s_per_1k: dict[str, float | None]
    errors_by_kind: dict[str, int] = field(default_factory=dict)
    # Per request name: requests, p50 and p95 in ms, slowest p95 first.
    endpoints: dict[str, tuple[int, float, float]] = field(default_factory=dict)
    machine_ms: float | None = None  # the median of machine_speed()'s samples during the step

    def held(self, p95_target_ms: float) -> bool:
        return self.requests > 0 and self.errors == 0 and self.p95_ms <= p95_target_ms

    def saturated(self, p95_target_ms: float) -> bool:
        """Far enough past the knee that higher rates are not worth trying."""
        sent_rps = self.requests / self.duration_s if self.duration_s else 0.0
        return (
            self.achieved_rps < 0.9 * sent_rps
            or self.p95_ms > 10 * p95_target_ms
            or self.errors > 0.01 * self.requests
        )


@dataclass(frozen=True)
class Search:
    steps: list[Step]
    max_rps: float | None
    held: Step | None


@dataclass(frozen=True)
class Connections:
    clients: int
    held: int
    refused: int
    dropped: int
    rss_before_bytes: int
    rss_with_streams_bytes: int
    rss_bytes_per_connection: float | None
    mix_rps: float
    mix: Step | None


@dataclass(frozen=True)
class Report:
    finished_at: str
    host: str
    workers: int
    pool_max_size: int
    redis: bool
    generator: str
    users_seeded: int
    p95_target_ms: float
    mix: Search
    bare: Search
    ratio: float | None
    connections: Connections | None


# -- measuring ------------------------------------------------------------------------------


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its live descendants, and its children that have exited."""
    root = psutil.Process(pid)
    times = root.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in root.children(recursive=True):
        try:
            child_times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += child_times.user + child_times.system
    return total


def _tree_rss(pid: int) -> int:
    root = psutil.Process(pid)
    total = root.memory_info().rss
    for child in root.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


@dataclass
class Meter:
    """CPU seconds so far of the app, PostgreSQL, Redis and this process (the generator)."""

    app_pid: int
    postgres_pid: int | None
    redis_client: redis.Redis | None

    def app(self) -> float:
        return tree_cpu(self.app_pid)

    def read(self) -> dict[str, float | None]:
        own = psutil.Process().cpu_times()
        figures: dict[str, float | None] = {
            "app": self.app(),
            "postgres": tree_cpu(self.postgres_pid) if self.postgres_pid else None,
            "redis": None,
            "generator": own.user + own.system,
        }
        if self.redis_client is not None:
            info = self.redis_client.info("cpu")
            figures["redis"] = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        return figures


async def postmaster_pid(database_url: str) -> int | None:
    """The local PostgreSQL server's postmaster, from postmaster.pid in its data directory
    (None when the server is elsewhere or the file is not readable)."""
    conn = await asyncpg.connect(sync_libpq_url(database_url))
    try:
        data_directory = await conn.fetchval("SHOW data_directory")
    finally:
        await conn.close()
    try:
        pid = int((Path(data_directory) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if psutil.pid_exists(pid) else None


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def figures(
    outcomes: list[Outcome], *, rate: float, started: float, ended: float, cpu: dict[str, float | None]
) -> Step:
    """A step from its outcomes and the CPU seconds spent meanwhile."""
    window = max(ended - started, 1e-9)
    latencies = sorted(o.latency_s * 1_000 for o in outcomes)
    answered = sum(1 for o in outcomes if o.status and o.done <= ended)
    kinds: dict[str, int] = {}
    for o in outcomes:
        if o.error:
            key = f"{o.name}: {o.error}"
            kinds[key] = kinds.get(key, 0) + 1
    by_name: dict[str, list[float]] = {}
    for o in outcomes:
        by_name.setdefault(o.name, []).append(o.latency_s * 1_000)
    endpoints = {
        name: (len(values), round(_percentile(values, 0.50), 1), round(_percentile(values, 0.95), 1))
        for name, values in ((n, sorted(v)) for n, v in by_name.items())
    }
    per_1k = {
        name: None if spent is None or not outcomes else round(spent / len(outcomes) * 1_000, 3)
        for name, spent in cpu.items()
    }
    return Step(
        target_rps=round(rate, 1),
        achieved_rps=round(answered / window, 1),
        duration_s=round(window, 1),
        requests=len(outcomes),
        errors=sum(kinds.values()),
        p50_ms=round(_percentile(latencies, 0.50), 1),
        p95_ms=round(_percentile(latencies, 0.95), 1),
        p99_ms=round(_percentile(latencies, 0.99), 1),
        cpu_s_per_1k=per_1k,
        errors_by_kind=dict(sorted(kinds.items(), key=lambda kv: -kv[1])[:5]),
        endpoints=dict(sorted(endpoints.items(), key=lambda kv: -kv[1][2])),
    )


async def settle(meter: Meter, plan: Plan, *, quiet_s: float = 2.0, max_s: float = 120.0) -> None:
    """Wait until the app has worked off what earlier load left queued (its CPU stays under
    `plan.idle_cores` for `quiet_s`), so that no step pays for the one before it."""
    deadline = time.monotonic() + max_s
    quiet_since = time.monotonic()
    last = meter.app()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = meter.app()
        if (now - last) / 0.5 > plan.idle_cores:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return
        last = now


# Run by `python -c` beside a step: twice a second, the CPU ms a million additions take
# (timed on a tenth of that), one figure a line, until terminated.
_MACHINE_PROBE = """
import signal, sys, time
def additions():
    started, total = time.process_time(), 0
    for i in range(100_000):
        total += i
    return (time.process_time() - started) * 10_000
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    print(round(additions(), 2), flush=True)
    time.sleep(0.5)
"""


@contextmanager
def machine_speed() -> Iterator[list[float]]:
    """The machine's speed while the block runs: CPU ms per million Python additions, sampled
    twice a second by a process of its own (about 1 % of one core), listed when the block ends.

    The app's CPU per request moves with the machine. On a shared host the same work takes
    from 27 to 53 ms within seconds, the app, PostgreSQL, Redis and the generator all at once,
    and fresh machines differ threefold; beside each step, the median of these samples tells
    a slower minute or machine from a change in the app."""
    samples: list[float] = []
    probe = subprocess.Popen(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", _MACHINE_PROBE], stdout=subprocess.PIPE, text=True
    )
    try:
        yield samples
    finally:
        probe.terminate()
        try:
            out, _ = probe.communicate(timeout=10)
        except subprocess.TimeoutExpired:  # a probe that does not stop is not waited for
            probe.kill()
            out, _ = probe.communicate()
        samples.extend(float(line) for line in out.split())


async def step(
    loop: OpenLoop, meter: Meter, next_request: Callable[[], Request], rate: float, plan: Plan, seed: int
) -> Step:
    """Once the app is idle, warm up at `rate`, then measure `plan.step_s` seconds at it."""
    await settle(meter, plan)
    await loop.run(next_request, rate=rate, duration_s=plan.warmup_s, seed=seed)
    with machine_speed() as speeds:
        before = meter.read()
        started = time.monotonic()
        outcomes = await loop.run(next_request, rate=rate, duration_s=plan.step_s, seed=seed + 1)
        ended = time.monotonic()
        after = meter.read()
    spent = {k: None if before[k] is None else after[k] - before[k] for k in before}  # type: ignore[operator]
    measured = figures(outcomes, rate=rate, started=started, ended=ended, cpu=spent)
    return replace(measured, machine_ms=round(statistics.median(speeds), 1) if speeds else None)


async def search(
    loop: OpenLoop,
    meter: Meter,
    next_request: Callable[[], Request],
    *,
    start_rps: float,
    plan: Plan,
    say: Callable[[str], None],
) -> Search:
    """Raise the rate by `plan.growth` until the server saturates, then bisect between the
    highest rate held and the next one tried."""
    steps: list[Step] = []

    async def measure(rate: float) -> Step:
        result = await step(loop, meter, next_request, rate, plan, seed=len(steps) * 2)
        steps.append(result)
        mark = "held" if result.held(plan.p95_target_ms) else "not held"
        say(
            f"{rate:,.0f}/s: {result.achieved_rps:,.0f}/s achieved, p95 {result.p95_ms:g} ms,"
            f" {result.errors} errors ({mark})"
        )
        return result

    await loop.run(next_request, rate=start_rps, duration_s=plan.first_warmup_s)
    rate = start_rps
    while len(steps) < plan.max_steps:
        if (await measure(rate)).saturated(plan.p95_target_ms):
            break
        rate *= plan.growth
    for _ in range(plan.refine):
        held = [s.target_rps for s in steps if s.held(plan.p95_target_ms)]
        low = max(held, default=0.0)
        above = [s.target_rps for s in steps if s.target_rps > low]
        if not above or len(steps) >= plan.max_steps:
            break
        high = min(above)
        if high - low < max(5.0, 0.05 * high):
            break
        await measure((low + high) / 2 if low else high / 2)
    best = max((s for s in steps if s.held(plan.p95_target_ms)), key=lambda s: s.target_rps, default=None)
    return Search(sorted(steps, key=lambda s: s.target_rps), best.target_rps if best else None, best)


# -- the server under test ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class Server:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    pool_max_size: int


async def pool_size_per_worker(database_url: str, settings: Settings, workers: int) -> int:
    """The configured pool, shrunk so `workers` full pools fit the server's max_connections
    (in production PgBouncer stands between them)."""
    conn = await asyncpg.connect(sync_libpq_url(database_url))
    try:
        allowed = int(await conn.fetchval("SHOW max_connections"))
        used = int(
            await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
        )
    finally:
        await conn.close()
    return max(2, min(settings.pool.max_size, (allowed - used - RESERVED_CONNECTIONS) // workers))


@contextmanager
def running(
    database_url: str, settings: Settings, *, workers: int, pool_max: int, folder: Path, env: dict[str, str]
) -> Iterator[Server]:
    """`ftw serve` on a free port until the block ends; waits for /readyz."""
    port = _free_port()
    folder.mkdir(parents=True, exist_ok=True)
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FTW_", "PROMETHEUS_"))},
        "FTW_DATABASE_URL": database_url,
        "FTW_DATA_DIR": str(folder),
        "FTW_SHUTDOWN_DELAY_S": "0",
        "FTW_LOG_JSON": "true",
        "FTW_POOL__MAX_SIZE": str(pool_max),
        "FTW_POOL__MIN_SIZE": str(min(settings.pool.min_size, pool_max)),
        "FTW_TRUSTED_PROXIES": json.dumps([f"{LOOPBACK}/32"]),  # sign-ins send X-Forwarded-For
        **env,
    }
    if settings.redis_url:
        environment["FTW_REDIS_URL"] = settings.redis_url
    ftw = str(Path(sys.executable).parent / "ftw")
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own command
        [ftw, "serve", "--host", LOOPBACK, "--port", str(port), "--workers", str(workers)],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://{LOOPBACK}:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"ftw serve exited {process.returncode}; see {folder / 'server.log'}")
            # Every worker serving, so the generator's connections spread over all of them.
            if workers <= 1 or len(listening_workers(process.pid, port)) == workers:
                try:
                    if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"ftw serve was not ready within 2 minutes; see {folder / 'server.log'}")
            time.sleep(0.25)
        yield Server(url, port, process, pool_max)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


async def seeded_users(database_url: str) -> int:
    conn = await asyncpg.connect(sync_libpq_url(database_url))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM users"))
    finally:
        await conn.close()


async def stream_tokens(database_url: str, settings: Settings, count: int) -> list[str]:
    """Access tokens of `count` distinct active users: one live stream each."""
    conn = await asyncpg.connect(sync_libpq_url(database_url))
    try:
        rows = await conn.fetch(
            "SELECT id, role, is_pro FROM users WHERE is_active AND role <> 'admin' ORDER BY id LIMIT $1",
            count,
        )
    finally:
        await conn.close()
    return [
        issue_access_token(settings.auth, user_id=r["id"], role=r["role"], pro=r["is_pro"])[0] for r in rows
    ]


def _drop_prefix(client: redis.Redis, prefix: str) -> None:
    """Remove the run's cache and rate-limit keys."""
    batch = list(client.scan_iter(match=f"{prefix}*", count=1_000))
    for i in range(0, len(batch), 1_000):
        client.delete(*batch[i : i + 1_000])


# -- the run --------------------------------------------------------------------------------


async def _hold_streams(
    loop: OpenLoop,
    meter: Meter,
    server: Server,
    next_request: Callable[[], Request],
    tokens: list[str],
    *,
    mix_rps: float,
    plan: Plan,
    say: Callable[[str], None],
) -> Connections:
    """Open one stream per token; once all are open and the app is idle again, measure its
    memory, then run the mix at `mix_rps` while all of them stay open."""
    await settle(meter, plan)
    rss_before = _tree_rss(server.process.pid)
    say(f"opening {len(tokens):,} notification streams at {plan.open_per_s:,.0f}/s")
    holders = streams.Holders(server.port, tokens, holders=plan.holders, open_per_s=plan.open_per_s)
    try:
        opened = await asyncio.to_thread(holders.opened)
        say(f"{opened.opened:,} streams open, {opened.refused:,} refused")
        await settle(meter, plan)
        rss_with = _tree_rss(server.process.pid)
        mixed = await step(loop, meter, next_request, mix_rps, plan, seed=99) if mix_rps else None
    finally:
        held = await asyncio.to_thread(holders.close)
    if mixed:
        say(f"mix at {mix_rps:,.0f}/s with the streams open: p95 {mixed.p95_ms:g} ms, {mixed.errors} errors")
    return Connections(
        clients=len(tokens),
        held=held.open_at_deadline,
        refused=held.refused,
        dropped=held.dropped,
        rss_before_bytes=rss_before,
        rss_with_streams_bytes=rss_with,
        rss_bytes_per_connection=round((rss_with - rss_before) / held.opened, 1) if held.opened else None,
        mix_rps=round(mix_rps, 1),
        mix=mixed,
    )


async def _run(
    database_url: str, settings: Settings, plan: Plan, folder: Path, say: Callable[[str], None]
) -> Report:
    users = await seeded_users(database_url)
    pool_max = await pool_size_per_worker(database_url, settings, plan.workers)
    postgres = await postmaster_pid(database_url)
    # A key of the run's own: the bench mints tokens the server accepts, and no one else's.
    key = secrets.token_urlsafe(32)
    settings = settings.model_copy(
        update={"auth": settings.auth.model_copy(update={"secret_key": SecretStr(key)})}
    )
    prefix = f"{settings.redis_prefix}-bench-{secrets.token_hex(4)}"
    env = {"FTW_AUTH__SECRET_KEY": key, "FTW_REDIS_PREFIX": prefix}
    redis_client = redis.Redis.from_url(settings.redis_url) if settings.redis_url else None
    population = await launch_mix.sample(database_url)
    tokens = await stream_tokens(database_url, settings, plan.connections) if plan.connections else []
    # The generator times requests from their intended start, so its own pauses count as the
    # server's latency: its full collections took up to 0.6 s, every 13 s or so, with the
    # sampled population (kept for the whole run) in the oldest generation.
    thresholds = gc.get_threshold()
    gc.freeze()
    rarer_full_collections()
    try:
        with running(
            database_url, settings, workers=plan.workers, pool_max=pool_max, folder=folder, env=env
        ) as server:
            say(f"serving {server.url}: {plan.workers} workers, pool {pool_max} each, {users:,} users")
            meter = Meter(server.process.pid, postgres, redis_client)
            host = f"{LOOPBACK}:{server.port}"
            loop = OpenLoop(server.port)
            try:
                requests = launch_mix.Mix(population, settings, host=host)
                say("launch mix")
                mixed = await search(
                    loop, meter, requests.next, start_rps=plan.mix_start_rps, plan=plan, say=say
                )
                say("bare endpoint (/healthz)")
                bare = await search(
                    loop, meter, launch_mix.bare(host), start_rps=plan.bare_start_rps, plan=plan, say=say
                )
                connections = None
                if tokens:
                    rate = (mixed.max_rps or plan.mix_start_rps) / 2
                    connections = await _hold_streams(
                        loop, meter, server, requests.next, tokens, mix_rps=rate, plan=plan, say=say
                    )
            finally:
                loop.close()
    finally:
        gc.unfreeze()  # the freeze and thresholds undone for whoever runs the bench in process (the tests)
        gc.set_threshold(*thresholds)
        if redis_client is not None:
            _drop_prefix(redis_client, prefix)
            redis_client.close()
    ratio = round(mixed.max_rps / bare.max_rps, 4) if mixed.max_rps and bare.max_rps else None
    return Report(
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        host=server.url,
        workers=plan.workers,
        pool_max_size=pool_max,
        redis=redis_client is not None,
        generator=GENERATOR,
        users_seeded=users,
        p95_target_ms=plan.p95_target_ms,
        mix=mixed,
        bare=bare,
        ratio=ratio,
        connections=connections,
    )


def run(
    database_url: str,
    settings: Settings,
    plan: Plan,
    *,
    reports: Path = REPORTS,
    say: Callable[[str], None] = print,
) -> tuple[Report, Path]:
    """Run the bench and write its report; returns it and the JSON file."""
    reports.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report = uvloop.run(_run(database_url, settings, plan, reports / f"{stamp}-server", say))
    path = reports / f"{stamp}.json"
    text = json.dumps(asdict(report), indent=2)
    path.write_text(text)
    (reports / "latest.json").write_text(text)
    return report, path


def summary(report: Report, path: Path) -> dict[str, Any]:
    """The headline figures, then the whole report, as `--json` prints them."""
    return {
        "report": str(path),
        "mix_max_rps": report.mix.max_rps,
        "bare_max_rps": report.bare.max_rps,
        "ratio": report.ratio,
        "cpu_ms_per_request": report.mix.held.cpu_s_per_1k if report.mix.held else None,
        **asdict(report),
    }


def _table(title: str, found: Search, p95_target_ms: float) -> Table:
    table = Table(title=title)
    columns = ("rate/s", "got/s", "p50", "p95", "p99", "errors")
    for column in (*columns, "app", "pg", "redis", "gen", "mach", ""):
        table.add_column(column, justify="right")
    for s in found.steps:
        cpu = [f"{v:.2f}" if v is not None else "-" for v in s.cpu_s_per_1k.values()]
        mark = "[green]held[/]" if s.held(p95_target_ms) else "[red]no[/]"
        machine = f"{s.machine_ms:g}" if s.machine_ms is not None else "-"
        table.add_row(
            f"{s.target_rps:,.0f}", f"{s.achieved_rps:,.0f}", f"{s.p50_ms:g}", f"{s.p95_ms:g}",
            f"{s.p99_ms:g}", str(s.errors), *cpu, machine, mark,
        )  # fmt: skip
    table.caption = (
        "latency in ms; app, pg (PostgreSQL), redis, gen (generator): CPU ms per request;"
        " mach: CPU ms for a million Python additions during the step (higher: a slower machine)"
    )
    return table


def lines(report: Report, path: Path) -> list[Any]:
    """What the command prints: both searches as tables, then the headline."""
    out: list[Any] = [
        _table("launch mix", report.mix, report.p95_target_ms),
        _table("bare endpoint (/healthz)", report.bare, report.p95_target_ms),
    ]
    target = f"p95 <= {report.p95_target_ms:g} ms and no errors"
    mix = f"{report.mix.max_rps:,.0f}/s" if report.mix.max_rps else "no rate"
    bare = f"{report.bare.max_rps:,.0f}/s" if report.bare.max_rps else "no rate"
    out.append(f"[bold]Held at {target}:[/] launch mix {mix}, bare endpoint {bare}")
    if report.ratio:
        out.append(f"  the launch mix holds {report.ratio:.1%} of the framework's ceiling")
    if report.mix.held:
        cpu = report.mix.held.cpu_s_per_1k
        parts = [f"{name} {value:g} ms" for name, value in cpu.items() if value is not None]
        out.append(f"  CPU per request at {report.mix.max_rps:,.0f}/s: " + ", ".join(parts))
        if report.mix.held.machine_ms is not None:
            speed = report.mix.held.machine_ms
            out.append(f"  the machine meanwhile: {speed:g} CPU ms for a million Python additions")
    c = report.connections
    if c is not None:
        per = f"{c.rss_bytes_per_connection / 1024:,.1f} KiB" if c.rss_bytes_per_connection else "-"
        out.append(
            f"[bold]Streams:[/] {c.held:,} of {c.clients:,} held open ({c.refused} refused,"
            f" {c.dropped} dropped), {per} of server memory each"
        )
        if c.mix:
            out.append(
                f"  mix at {c.mix_rps:,.0f}/s meanwhile: p95 {c.mix.p95_ms:g} ms, {c.mix.errors} errors"
            )
    out.append(f"  {path}")
    return out


def with_plan(plan: Plan, **changes: Any) -> Plan:
    """`plan` with the options given on the command line (None: keep the plan's)."""
    return replace(plan, **{k: v for k, v in changes.items() if v is not None})
