"""The runbook's health view, computed inside the service for /ops and /metrics.

Rates and quantiles come from this process's metric registry (every worker's, in
multi-process mode) as differences between samples taken when the page is viewed, over
the last five minutes — the same arithmetic Prometheus applies to the same series.
Database-wide figures (connections, instances, the task queue) come from PostgreSQL.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import psutil
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.config import Alerts, Threshold
from ftw.core import metrics

Level = Literal["ok", "warning", "critical", "none"]
WINDOW_S = 300.0
_BOUNDS = (*metrics.HTTP_BUCKETS, float("inf"))
_QUERY_BOUNDS = (*metrics.QUERY_BUCKETS, float("inf"))


@dataclass(frozen=True)
class TaskQueue:
    entrypoint: str
    depth: int
    oldest_age_s: float


@dataclass(frozen=True)
class QueueStats:
    tasks: list[TaskQueue]

    @property
    def depth(self) -> int:
        return sum(t.depth for t in self.tasks)

    @property
    def oldest_age_s(self) -> float:
        return max((t.oldest_age_s for t in self.tasks), default=0.0)


async def queue_stats(session: AsyncSession) -> QueueStats:
    """Tasks due and waiting for a worker, by task, from pgqueuer's table."""
    rows = await session.execute(
        text(
            "SELECT entrypoint, count(*), extract(epoch FROM now() - min(execute_after))::float8 "
            "FROM pgqueuer WHERE status = 'queued' AND execute_after <= now() "
            "GROUP BY entrypoint ORDER BY entrypoint"
        )
    )
    return QueueStats([TaskQueue(name, depth, max(age, 0.0)) for name, depth, age in rows.all()])


@dataclass(frozen=True)
class DatabaseFigures:
    connections: int
    max_connections: int
    instances: int  # ftw processes with a connection (application_name ftw-<pid>)


async def database_figures(session: AsyncSession) -> DatabaseFigures:
    row = (
        await session.execute(
            text(
                "SELECT count(*), current_setting('max_connections')::int, "
                "count(DISTINCT (client_addr, application_name)) "
                "FILTER (WHERE application_name LIKE 'ftw-%' AND datname = current_database()) "
                "FROM pg_stat_activity WHERE backend_type = 'client backend'"
            )
        )
    ).one()
    return DatabaseFigures(connections=row[0], max_connections=row[1], instances=row[2])


@dataclass(frozen=True)
class Sample:
    """Cumulative totals at one moment; a figure over a window is the difference of two."""

    at: float
    requests: float = 0.0
    errors: float = 0.0
    latency: tuple[float, ...] = (0.0,) * len(_BOUNDS)  # cumulative count per bucket
    queries: tuple[float, ...] = (0.0,) * len(_QUERY_BOUNDS)
    query_seconds: float = 0.0
    cache_hits: float = 0.0
    cache_misses: float = 0.0
    cpu_seconds: float = 0.0
    host_busy_s: float = 0.0
    host_total_s: float = 0.0


def _bucket_index(bounds: tuple[float, ...], le: str) -> int:
    return bounds.index(float(le))


def take_sample(registry: CollectorRegistry, *, at: float) -> Sample:
    latency = [0.0] * len(_BOUNDS)
    queries = [0.0] * len(_QUERY_BOUNDS)
    totals: dict[str, float] = {}
    for family in registry.collect():
        for s in family.samples:
            if s.name == "http_request_duration_seconds_bucket":
                latency[_bucket_index(_BOUNDS, s.labels["le"])] += s.value
            elif s.name == "http_request_duration_seconds_count":
                totals["requests"] = totals.get("requests", 0.0) + s.value
                if s.labels["status"].startswith("5"):
                    totals["errors"] = totals.get("errors", 0.0) + s.value
            elif s.name == "ftw_db_query_duration_seconds_bucket":
                queries[_bucket_index(_QUERY_BOUNDS, s.labels["le"])] += s.value
            elif s.name == "ftw_db_query_duration_seconds_sum":
                totals["query_seconds"] = totals.get("query_seconds", 0.0) + s.value
            elif s.name == "ftw_cache_requests_total":
                key = "cache_hits" if s.labels["result"] == "hit" else "cache_misses"
                totals[key] = totals.get(key, 0.0) + s.value
            elif s.name == "process_cpu_seconds_total":
                totals["cpu_seconds"] = s.value
    busy, total = _host_cpu()
    return Sample(
        at=at, latency=tuple(latency), queries=tuple(queries), host_busy_s=busy, host_total_s=total, **totals
    )


def _host_cpu() -> tuple[float, float]:
    """Seconds the host's CPUs were busy, and in all, since boot."""
    cpu = psutil.cpu_times()
    return sum(cpu) - cpu.idle - cpu.iowait, sum(cpu)


def start_sample() -> Sample:
    """The baseline of a process that has served nothing yet."""
    busy, total = _host_cpu()
    return Sample(at=time.monotonic(), host_busy_s=busy, host_total_s=total)


def quantile(q: float, bounds: tuple[float, ...], cumulative: Iterable[float]) -> float | None:
    """histogram_quantile: linear interpolation inside the bucket holding the q-th rank."""
    counts = list(cumulative)
    total = counts[-1]
    if total <= 0:
        return None
    rank = q * total
    for i, count in enumerate(counts):
        if count >= rank:
            if bounds[i] == float("inf"):
                return bounds[i - 1]  # beyond the last finite edge: report the edge
            lower, below = (bounds[i - 1], counts[i - 1]) if i else (0.0, 0.0)
            if count == below:
                return bounds[i]
            return lower + (bounds[i] - lower) * (rank - below) / (count - below)
    return None


@dataclass
class Window:
    """Samples taken when the page is viewed; each view is measured from the newest
    sample at least ``span_s`` old (or from the start, in the first five minutes)."""

    start: Sample
    span_s: float = WINDOW_S
    samples: deque[Sample] = field(default_factory=deque)

    def baseline(self, now: Sample) -> Sample:
        if not self.samples:
            self.samples.append(self.start)
        while len(self.samples) > 1 and now.at - self.samples[1].at >= self.span_s:
            self.samples.popleft()
        baseline = self.samples[0]
        if now.at - self.samples[-1].at >= 5:  # at most one sample per 5 s, however many viewers
            self.samples.append(now)
        return baseline


def _diff(a: tuple[float, ...], b: tuple[float, ...]) -> list[float]:
    return [x - y for x, y in zip(a, b, strict=True)]


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole > 0 else None


@dataclass(frozen=True)
class Figure:
    label: str
    value: str
    level: Level = "none"
    note: str = ""


def level(value: float | None, threshold: Threshold) -> Level:
    if value is None:
        return "none"
    if value > threshold.critical:
        return "critical"
    return "warning" if value > threshold.warning else "ok"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} %"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:,.0f} ms"


@dataclass(frozen=True)
class Overview:
    generated_at: datetime
    window_s: float
    figures: list[Figure]
    breakers: dict[str, str]
    queue: QueueStats
    business: dict[str, dict[str, float]]


def _gauges(
    registry: CollectorRegistry,
) -> tuple[dict[str, float], dict[str, str], dict[str, dict[str, float]]]:
    """Point-in-time values: pool gauges, breaker states, business counters since start."""
    values: dict[str, float] = {}
    breakers: dict[str, str] = {}
    business: dict[str, dict[str, float]] = {}
    names = {v: k for k, v in metrics.BREAKER_STATES.items()}
    counters = {f"ftw_{event}_total": event for event in metrics.BUSINESS}
    for family in registry.collect():
        for s in family.samples:
            if s.name == "ftw_breaker_state":  # in multi-process mode, already the worst worker's
                breakers[s.labels["vendor"]] = names.get(int(s.value), "open")
            elif s.name in counters:
                business.setdefault(counters[s.name], {})[s.labels["outcome"]] = s.value
            elif s.name in ("ftw_db_pool_checked_out_connections", "ftw_db_pool_max_connections"):
                values[s.name] = values.get(s.name, 0.0) + s.value
            elif s.name == "process_resident_memory_bytes":
                values[s.name] = s.value
    return values, breakers, business


def compute(
    *,
    registry: CollectorRegistry,
    window: Window,
    alerts: Alerts,
    active_users: int | None,
    database: DatabaseFigures | None,
    queue: QueueStats | None,
) -> Overview:
    now = take_sample(registry, at=time.monotonic())
    base = window.baseline(now)
    seconds = max(now.at - base.at, 1e-9)
    latency = _diff(now.latency, base.latency)
    requests = now.requests - base.requests
    error_ratio = _ratio(now.errors - base.errors, requests)
    queries = _diff(now.queries, base.queries)
    lookups = (now.cache_hits - base.cache_hits) + (now.cache_misses - base.cache_misses)
    hit_ratio = _ratio(now.cache_hits - base.cache_hits, lookups)
    host_cpu = _ratio(now.host_busy_s - base.host_busy_s, now.host_total_s - base.host_total_s)
    memory = psutil.virtual_memory()
    gauges, breakers, business = _gauges(registry)
    p95 = quantile(0.95, _BOUNDS, latency)
    figures = [
        Figure("Active users (5 min)", "—" if active_users is None else f"{active_users:,}"),
        Figure("Requests/s", f"{requests / seconds:,.2f}", note=f"requests: {requests:,.0f}"),
        Figure("p50", _ms(quantile(0.5, _BOUNDS, latency))),
        Figure("p95", _ms(p95), level(p95, alerts.p95_seconds)),
        Figure("p99", _ms(quantile(0.99, _BOUNDS, latency))),
        Figure(
            "Error rate (5xx)",
            _pct(None if error_ratio is None else error_ratio * 100),
            level(None if error_ratio is None else error_ratio * 100, alerts.error_percent),
        ),
    ]
    if database is not None:
        used = 100 * database.connections / database.max_connections
        figures.append(
            Figure(
                "DB connections",
                f"{database.connections} of {database.max_connections}",
                level(used, alerts.db_connections_percent),
                note=f"pool: {gauges.get('ftw_db_pool_checked_out_connections', 0):.0f} in use "
                f"of {gauges.get('ftw_db_pool_max_connections', 0):.0f}",
            )
        )
        figures.append(Figure("Instances", str(database.instances), note="ftw processes on the database"))
    query_count = queries[-1]
    figures += [
        Figure(
            "Query time",
            _ms(_ratio(now.query_seconds - base.query_seconds, query_count)),
            note=f"p95 {_ms(quantile(0.95, _QUERY_BOUNDS, queries))}, {query_count:,.0f} queries",
        ),
        Figure(
            "Cache hit",
            _pct(None if hit_ratio is None else hit_ratio * 100),
            "none"
            if hit_ratio is None
            else ("warning" if hit_ratio * 100 < alerts.min_cache_hit_percent else "ok"),
            note=f"{lookups:,.0f} lookups",
        ),
        Figure(
            "CPU (host)",
            _pct(None if host_cpu is None else host_cpu * 100),
            level(None if host_cpu is None else host_cpu * 100, alerts.cpu_percent),
            note=f"this process {100 * (now.cpu_seconds - base.cpu_seconds) / seconds:.1f} %",
        ),
        Figure(
            "Memory (host)",
            _pct(memory.percent),
            level(memory.percent, alerts.memory_percent),
            note=f"this process {gauges.get('process_resident_memory_bytes', 0) / 2**20:,.0f} MiB",
        ),
    ]
    return Overview(
        generated_at=datetime.now(UTC),
        window_s=seconds,
        figures=figures,
        breakers=breakers,
        queue=queue or QueueStats([]),
        business=business,
    )
