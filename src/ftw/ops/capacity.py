"""The capacity planner: from registered users to instances, connections, memory, storage, cost.

Load figures come from the latest load-test report when there is one (requests per user per
minute = its requests/s over its users), else from the documented defaults below. CPU per
request is a default until `ftw bench` measures it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from ftw.config import Settings

# DESIGN.md's launch figure: 2,500 requests/s from 20,000 concurrent users.
DEFAULT_REQUESTS_PER_USER_MIN = 7.5
DEFAULT_CPU_MS_PER_REQUEST = 10.0  # an assumption until `ftw bench` measures it
REDIS_BYTES_PER_DAU = 2_048  # session, rate-limit windows and a share of cached pages
REDIS_BASE_BYTES = 512 * 2**20  # cached listings and territory figures, independent of users
DB_BYTES_PER_JOB = 16 * 2**10  # the job, ~5 bids, ~10 messages, payments, ledger, indexes
MEDIA_BYTES_PER_JOB = 1.5 * 2**20  # photos: about one 1.5 MB image per job on average
CONSERVATIVE_FINAL_USERS = 300_000  # the other growth plan: 300k users by the end of year one


@dataclass(frozen=True)
class Inputs:
    """The measured (or default) load figures a plan is computed from, and where they came from."""

    requests_per_user_min: float
    cpu_ms_per_request: float
    source: str


@dataclass(frozen=True)
class Plan:
    """What `users` registered users need at peak."""

    label: str
    users: int
    dau: int
    concurrent: int
    peak_rps: float
    instances_needed: int
    instances: int
    app_connections: int
    pgbouncer_server_connections: int
    redis_mb: float
    database_gb_year: float
    media_gb_year: float
    monthly_cost: float
    warnings: tuple[str, ...]


def inputs_from(report: Path) -> Inputs:
    """Requests per user per minute from a load-test report, or the defaults when it is absent."""
    if report.exists():
        data = json.loads(report.read_text())
        if data.get("users") and data.get("rps"):
            per_user = float(data["rps"]) / int(data["users"]) * 60
            return Inputs(per_user, DEFAULT_CPU_MS_PER_REQUEST, f"{report} (CPU per request: default)")
    return Inputs(DEFAULT_REQUESTS_PER_USER_MIN, DEFAULT_CPU_MS_PER_REQUEST, "defaults (no load-test report)")


def plan(users: int, settings: Settings, inputs: Inputs, label: str = "") -> Plan:
    """Size the platform for `users` registered users at their daily peak."""
    launch, scale, pool, prices = settings.launch, settings.autoscale, settings.pool, settings.capacity_prices
    dau = round(users * launch.dau_ratio)
    concurrent = round(dau * launch.concurrent_ratio)
    peak_rps = concurrent * inputs.requests_per_user_min / 60
    cores = peak_rps * inputs.cpu_ms_per_request / 1_000 / (scale.scale_up_cpu_percent / 100)
    needed = math.ceil(cores / prices.instance_vcpus)
    instances = min(max(needed, scale.min_instances), scale.max_instances)
    warnings = []
    if needed > scale.max_instances:
        warnings.append(f"needs {needed} instances, over the autoscale maximum of {scale.max_instances}")
    app_connections = instances * pool.max_size
    if app_connections > pool.pgbouncer_max_clients:
        warnings.append(
            f"{app_connections:,} app connections exceed PgBouncer's {pool.pgbouncer_max_clients:,}"
        )
    redis_mb = (REDIS_BASE_BYTES + dau * REDIS_BYTES_PER_DAU) / 2**20
    jobs_year = launch.jobs_per_day * users / launch.users * 365
    database_gb = jobs_year * DB_BYTES_PER_JOB / 2**30
    media_gb = jobs_year * MEDIA_BYTES_PER_JOB / 2**30
    cost = (
        instances * prices.instance_month
        + prices.database_month
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
        instances_needed=needed,
        instances=instances,
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
