"""The capacity planner: from registered users to instances, database and Redis vCPUs,
connections, memory, storage and cost.

Figures come from measurement where there is one: requests per user per minute from the latest
load test (its requests/s over its users); CPU per request of the app, PostgreSQL and Redis, the
rate one instance holds at p95 <= 100 ms and the memory of an open stream from the latest
`ftw bench`. A figure neither file has falls back to a DEFAULT_* below, and its source says so.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ftw.config import Settings

# DESIGN.md's launch figure: 2,500 requests/s from 20,000 concurrent users.
DEFAULT_REQUESTS_PER_USER_MIN = 7.5
# Assumptions until `ftw bench` measures them.
DEFAULT_CPU_MS_PER_REQUEST = 10.0  # the app
DEFAULT_POSTGRES_CPU_MS_PER_REQUEST = 5.0
DEFAULT_REDIS_CPU_MS_PER_REQUEST = 0.2
DEFAULT_STREAM_BYTES_PER_CONNECTION = 64 * 2**10  # a task, socket buffers and a queue per stream
REDIS_BYTES_PER_DAU = 2_048  # session, rate-limit windows and a share of cached pages
REDIS_BASE_BYTES = 512 * 2**20  # cached listings and territory figures, independent of users
DB_BYTES_PER_JOB = 16 * 2**10  # the job, ~5 bids, ~10 messages, payments, ledger, indexes
MEDIA_BYTES_PER_JOB = 1.5 * 2**20  # photos: about one 1.5 MB image per job on average
CONSERVATIVE_FINAL_USERS = 300_000  # the other growth plan: 300k users by the end of year one

# Each Inputs figure, as the command prints it.
FIGURES = {
    "requests_per_user_min": "requests per user per minute",
    "app_cpu_ms": "app CPU ms per request",
    "postgres_cpu_ms": "PostgreSQL CPU ms per request",
    "redis_cpu_ms": "Redis CPU ms per request",
    "held_rps": "requests/s one instance holds at p95 <= 100 ms",
    "stream_bytes_per_connection": "bytes per open stream",
}


class ReportError(ValueError):
    """A report file exists but cannot be read as a JSON object."""


@dataclass(frozen=True)
class Inputs:
    """The load figures a plan is computed from; `sources` says where each came from (a named
    file, or "default (why)")."""

    requests_per_user_min: float
    app_cpu_ms: float
    postgres_cpu_ms: float
    redis_cpu_ms: float
    held_rps: float | None  # None: not measured, so the CPU bound alone sizes the instances
    stream_bytes_per_connection: float
    sources: Mapping[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, dict[str, Any]]:
        return {name: {"value": getattr(self, name), "source": self.sources.get(name)} for name in FIGURES}

    def measured(self, name: str) -> bool:
        """Whether figure `name` came from a report rather than a default."""
        return not self.sources.get(name, "default").startswith("default")


@dataclass(frozen=True)
class Plan:
    """What `users` registered users need at peak."""

    label: str
    users: int
    dau: int
    concurrent: int
    peak_rps: float
    instances_by_cpu: int
    instances_by_rate: int | None
    bound: Literal["cpu", "rate"]  # which of the two decided instances_needed
    instances_needed: int
    instances: int  # instances_needed within the autoscale minimum and maximum
    database_vcpus: float
    redis_vcpus: float
    stream_mb_per_instance: float
    app_connections: int
    pgbouncer_server_connections: int
    redis_mb: float
    database_gb_year: float
    media_gb_year: float
    monthly_cost: float
    warnings: tuple[str, ...]


def _read(path: Path) -> dict[str, Any] | None:
    """The report's JSON object, or None when there is no such file."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ReportError(f"{path} is not a JSON object")
    return data


def _number(data: Any, *keys: str) -> float | None:
    """data[key][key]... when it is a finite number >= 0; None when absent, null or not a number."""
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    if isinstance(data, bool) or not isinstance(data, int | float) or not math.isfinite(data) or data < 0:
        return None
    return float(data)


def _from_bench(bench: dict[str, Any] | None, path: Path, *keys: str) -> tuple[float | None, str]:
    """The bench figure at `keys` and its source, or None and why it is missing."""
    if bench is None:
        return None, f"no bench report at {path}"
    value = _number(bench, *keys)
    if value is not None:
        return value, f"{path} (finished {bench.get('finished_at')})"
    mix = bench.get("mix")
    if keys[:2] == ("mix", "held") and not (isinstance(mix, dict) and isinstance(mix.get("held"), dict)):
        return None, f"no mix step held p95 <= 100 ms without errors in {path}"
    return None, f"no {'.'.join(keys)} in {path}"


def inputs_from(loadtest_report: Path, bench_report: Path) -> Inputs:
    """Requests per user from the load-test report, costs and limits from the bench report;
    a figure they lack falls back to its default (the held rate to none: no rate bound)."""
    sources: dict[str, str] = {}
    loadtest = _read(loadtest_report)
    users, rps = _number(loadtest, "users"), _number(loadtest, "rps")
    if users and rps:
        per_user = rps / users * 60
        sources["requests_per_user_min"] = str(loadtest_report)
    else:
        per_user = DEFAULT_REQUESTS_PER_USER_MIN
        missing = "no load-test report at" if loadtest is None else "no users and rps in"
        sources["requests_per_user_min"] = f"default ({missing} {loadtest_report})"

    bench = _read(bench_report)

    def measured_or(default: float, name: str, *keys: str) -> float:
        value, source = _from_bench(bench, bench_report, *keys)
        sources[name] = source if value is not None else f"default ({source})"
        return value if value is not None else default

    cpu = ("mix", "held", "cpu_s_per_1k")  # CPU seconds per 1,000 requests = ms per request
    app_cpu = measured_or(DEFAULT_CPU_MS_PER_REQUEST, "app_cpu_ms", *cpu, "app")
    postgres_cpu = measured_or(DEFAULT_POSTGRES_CPU_MS_PER_REQUEST, "postgres_cpu_ms", *cpu, "postgres")
    redis_cpu = measured_or(DEFAULT_REDIS_CPU_MS_PER_REQUEST, "redis_cpu_ms", *cpu, "redis")
    stream = measured_or(
        DEFAULT_STREAM_BYTES_PER_CONNECTION,
        "stream_bytes_per_connection",
        "connections",
        "rss_bytes_per_connection",
    )
    held, source = _from_bench(bench, bench_report, "mix", "max_rps")
    if held is None:
        sources["held_rps"] = f"default: none, the CPU bound alone ({source})"
    else:
        # The bench machine's cores also ran PostgreSQL, Redis and the generator; an instance
        # runs the app alone, so it holds the rate in proportion to the CPU the app had.
        others = (
            _from_bench(bench, bench_report, *cpu, name)[0] for name in ("postgres", "redis", "generator")
        )
        share = app_cpu / (app_cpu + sum(v or 0.0 for v in others))
        sources["held_rps"] = (
            f"{source}: {held:,.0f}/s held on the bench machine, where the app had {share:.0%} of"
            f" the CPU; {held / share:,.0f}/s for an instance running the app alone"
        )
        held /= share
    return Inputs(per_user, app_cpu, postgres_cpu, redis_cpu, held, stream, sources)


def plan(users: int, settings: Settings, inputs: Inputs, label: str = "") -> Plan:
    """Size the platform for `users` registered users at their daily peak.

    Instances are the larger of two bounds: enough vCPUs for the app's CPU at the autoscale
    target utilisation, and enough instances that none takes more than the rate one instance
    held at p95 <= 100 ms in `ftw bench`. PostgreSQL and Redis vCPUs use the same utilisation.
    """
    launch, scale, pool, prices = settings.launch, settings.autoscale, settings.pool, settings.capacity_prices
    dau = round(users * launch.dau_ratio)
    concurrent = round(dau * launch.concurrent_ratio)
    peak_rps = concurrent * inputs.requests_per_user_min / 60
    utilisation = scale.scale_up_cpu_percent / 100
    by_cpu = math.ceil(peak_rps * inputs.app_cpu_ms / 1_000 / utilisation / prices.instance_vcpus)
    by_rate = math.ceil(peak_rps / inputs.held_rps) if inputs.held_rps else None
    bound: Literal["cpu", "rate"] = "rate" if by_rate is not None and by_rate > by_cpu else "cpu"
    needed = by_rate if by_rate is not None and bound == "rate" else by_cpu
    instances = min(max(needed, scale.min_instances), scale.max_instances)
    database_vcpus = peak_rps * inputs.postgres_cpu_ms / 1_000 / utilisation
    redis_vcpus = peak_rps * inputs.redis_cpu_ms / 1_000 / utilisation
    stream_mb = concurrent / instances * inputs.stream_bytes_per_connection / 2**20
    stream_limit_mb = prices.instance_memory_gb * 1_024 * prices.stream_memory_share

    warnings = []
    if needed > scale.max_instances:
        warnings.append(f"needs {needed} instances, over the autoscale maximum of {scale.max_instances}")
    app_connections = instances * pool.max_size
    if app_connections > pool.pgbouncer_max_clients:
        warnings.append(
            f"{app_connections:,} app connections exceed PgBouncer's {pool.pgbouncer_max_clients:,}"
        )
    if stream_mb > stream_limit_mb:
        warnings.append(
            f"open streams take {stream_mb:,.0f} MB of each instance's {prices.instance_memory_gb:g} GB,"
            f" over the {prices.stream_memory_share:.0%} share ({stream_limit_mb:,.0f} MB) left for them"
        )
    if redis_vcpus > 1:
        warnings.append(
            f"Redis needs {redis_vcpus:.1f} vCPUs at {scale.scale_up_cpu_percent} % but runs commands"
            " on one thread: shard it or make fewer calls per request"
        )

    redis_mb = (REDIS_BASE_BYTES + dau * REDIS_BYTES_PER_DAU) / 2**20
    jobs_year = launch.jobs_per_day * users / launch.users * 365
    database_gb = jobs_year * DB_BYTES_PER_JOB / 2**30
    media_gb = jobs_year * MEDIA_BYTES_PER_JOB / 2**30
    cost = (
        instances * prices.instance_month
        + max(prices.database_month, math.ceil(database_vcpus) * prices.database_vcpu_month)
        + prices.pgbouncer_month
        + redis_mb / 1_024 * prices.redis_gb_month
        + database_gb * prices.database_storage_gb_month
        + media_gb * prices.object_storage_gb_month
    )
    return Plan(
        label=label,
        users=users,
        dau=dau,
        concurrent=concurrent,
        peak_rps=round(peak_rps, 1),
        instances_by_cpu=by_cpu,
        instances_by_rate=by_rate,
        bound=bound,
        instances_needed=needed,
        instances=instances,
        database_vcpus=round(database_vcpus, 1),
        redis_vcpus=round(redis_vcpus, 1),
        stream_mb_per_instance=round(stream_mb, 1),
        app_connections=app_connections,
        pgbouncer_server_connections=pool.pgbouncer_pool_size,
        redis_mb=round(redis_mb, 1),
        database_gb_year=round(database_gb, 1),
        media_gb_year=round(media_gb, 1),
        monthly_cost=round(cost, 2),
        warnings=tuple(warnings),
    )


def growth_plans(settings: Settings, inputs: Inputs) -> dict[str, list[Plan]]:
    """Both growth plans, phase by phase: 400k on day one to 1M, and 300k by the end of year one
    (the same phases scaled down to it)."""
    phases = settings.growth_phases
    final = phases[-1].max_users
    return {
        "400k day one to 1M": [plan(p.max_users, settings, inputs, p.name) for p in phases],
        "300k first year": [
            plan(round(p.max_users * CONSERVATIVE_FINAL_USERS / final), settings, inputs, p.name)
            for p in phases
        ],
    }
