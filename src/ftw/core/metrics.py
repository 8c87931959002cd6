"""Prometheus metrics: every series the service exports, defined once, here.

Values live in the process by default. When ``PROMETHEUS_MULTIPROC_DIR`` is set before
start-up (``ftw serve --workers N`` sets it), every worker writes its values to files in
that folder and a scrape of any worker reports the sum over all of them.

Domain code records business events with :func:`count`; the cache, rate limiter and
circuit breakers call :func:`cache_lookup`, :func:`rate_limited` and
:func:`breaker_changed`. Numbers that live elsewhere (active users, queue depth) are read
at scrape time by the /metrics route and handed in as a :class:`Snapshot`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from ftw.config import Breakers, CacheTTL, RateTiers

CONTENT_TYPE = CONTENT_TYPE_LATEST

# 5 ms to 5 s, with edges at the targets and alert thresholds of DESIGN.md (p50 150 ms,
# p95 800 ms, alerts at 1 s and 2 s) so quantiles near them are exact, not interpolated.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0)
QUERY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
WAIT_BUCKETS = (0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter(
    "http_requests", "Requests answered, by method, route template and status", ["method", "route", "status"]
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from request to the end of the response body, by method, route template and status",
    ["method", "route", "status"],
    buckets=HTTP_BUCKETS,
)
# A request's two series, by (method, route, status): ``labels()`` validates and looks its
# values up under a lock on every call (19 Python calls a request); the children are the
# same objects every time, so each is found once. Finite: route templates, not paths.
_HTTP_SERIES: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}


def http_answered(method: str, route: str, status: str, seconds: float) -> None:
    """Count and time one answered request."""
    key = (method, route, status)
    series = _HTTP_SERIES.get(key)
    if series is None:
        series = _HTTP_SERIES[key] = (HTTP_REQUESTS.labels(*key), HTTP_DURATION.labels(*key))
    series[0].inc()
    series[1].observe(seconds)


HTTP_IN_FLIGHT = Gauge("http_requests_in_flight", "Requests being answered now", multiprocess_mode="livesum")
# Event streams are left out of the three series above (their "duration" is the life of the
# connection); this gauge counts them instead.
NOTIFICATION_STREAMS = Gauge(
    "ftw_notification_streams", "Live notification streams open now", multiprocess_mode="livesum"
)

DB_POOL_MAX = Gauge(
    "ftw_db_pool_max_connections",
    "Connections the pools may open (pool size + overflow)",
    multiprocess_mode="livesum",
)
DB_POOL_OPEN = Gauge(
    "ftw_db_pool_open_connections", "Connections the pools hold open", multiprocess_mode="livesum"
)
DB_POOL_CHECKED_OUT = Gauge(
    "ftw_db_pool_checked_out_connections",
    "Connections in use by a request or task",
    multiprocess_mode="livesum",
)
DB_POOL_WAIT = Histogram(
    "ftw_db_pool_wait_seconds", "Time spent waiting for a connection from the pool", buckets=WAIT_BUCKETS
)
SQL_OPERATIONS = ("select", "insert", "update", "delete", "other")
DB_QUERY = Histogram(
    "ftw_db_query_duration_seconds",
    "Statement execution time, by SQL verb",
    ["operation"],
    buckets=QUERY_BUCKETS,
)
DB_SLOW_QUERIES = Counter(
    "ftw_db_slow_queries", "Statements slower than the slow_query_ms setting, by SQL verb", ["operation"]
)

CACHE_REQUESTS = Counter(
    "ftw_cache_requests", "Cache lookups by kind of data and result (hit or miss)", ["kind", "result"]
)
RATE_LIMIT_REJECTIONS = Counter(
    "ftw_rate_limit_rejections", "Requests refused by a rate limit, by caller tier", ["tier"]
)

BreakerState = Literal["closed", "half_open", "open"]
BREAKER_STATES: dict[BreakerState, int] = {"closed": 0, "half_open": 1, "open": 2}
BREAKER_STATE = Gauge(
    "ftw_breaker_state",
    "Circuit breaker state by vendor: 0 closed, 1 half-open, 2 open",
    ["vendor"],
    multiprocess_mode="livemax",
)
BREAKER_TRANSITIONS = Counter(
    "ftw_breaker_transitions", "Circuit breaker state changes, by vendor and new state", ["vendor", "state"]
)

Event = Literal["jobs_posted", "bids", "messages", "payments", "payouts"]
_BUSINESS_HELP: dict[Event, str] = {
    "jobs_posted": "Jobs posted",
    "bids": "Bids placed",
    "messages": "Messages sent",
    "payments": "Payment attempts",
    "payouts": "Payout attempts",
}
# Exported as ftw_<event>_total{outcome}.
BUSINESS: dict[Event, Counter] = {
    event: Counter(f"ftw_{event}", f"{help_text}, by outcome", ["outcome"])
    for event, help_text in _BUSINESS_HELP.items()
}

# Series with no events yet are exported as 0, so rates and alerts work from the start.
for _kind in CacheTTL.model_fields:
    for _result in ("hit", "miss"):
        CACHE_REQUESTS.labels(_kind, _result)
for _tier in RateTiers.model_fields:
    RATE_LIMIT_REJECTIONS.labels(_tier)
for _vendor in Breakers.model_fields:
    BREAKER_STATE.labels(_vendor).set(0)
for _counter in BUSINESS.values():
    _counter.labels("ok")
for _operation in SQL_OPERATIONS:
    DB_SLOW_QUERIES.labels(_operation)


_PENDING = "ftw.metrics.pending"


def count(event: Event, outcome: str = "ok", *, session: AsyncSession | None = None) -> None:
    """Count a business event. ``outcome`` is a short fixed word: ok, declined, failed, ...

    With ``session`` the event is counted only if that session's transaction commits, so a
    job whose request rolls back is not counted as posted.
    """
    counter = BUSINESS[event].labels(outcome)
    if session is None:
        counter.inc()
    else:
        session.sync_session.info.setdefault(_PENDING, []).append(counter)


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    if session.get_nested_transaction() is None:  # a released savepoint is not a commit
        for counter in session.info.pop(_PENDING, ()):
            counter.inc()


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)


def cache_lookup(kind: str, *, hit: bool) -> None:
    """Record a cache lookup; ``kind`` is a field name of config.CacheTTL."""
    CACHE_REQUESTS.labels(kind, "hit" if hit else "miss").inc()


def rate_limited(tier: str) -> None:
    """Record a request refused by the limiter; ``tier`` is a field name of config.RateTiers."""
    RATE_LIMIT_REJECTIONS.labels(tier).inc()


def breaker_changed(vendor: str, state: BreakerState) -> None:
    """Record a circuit breaker's new state; ``vendor`` is a field name of config.Breakers."""
    BREAKER_STATE.labels(vendor).set(BREAKER_STATES[state])
    BREAKER_TRANSITIONS.labels(vendor, state).inc()


@dataclass(frozen=True, eq=False)  # hashed by identity: registries key collectors by hash
class Snapshot:
    """Gauges read at scrape time from outside the process (Redis, the database)."""

    gauges: Mapping[str, tuple[str, float]]  # name -> (help, value)

    def collect(self) -> Iterator[Metric]:
        for name, (help_text, value) in self.gauges.items():
            yield GaugeMetricFamily(name, help_text, value=value)


class _Default:
    """The default registry seen as one collector: this process's metrics and process_*."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def registry(*extra: Collector) -> CollectorRegistry:
    """Everything a scrape reports: every worker's values when several share a folder.

    In multi-process mode process_* describes the worker answering the scrape; deploy one
    worker per container to have it describe the instance.
    """
    combined = CollectorRegistry()
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
        ProcessCollector(registry=combined)
    else:
        combined.register(_Default())
    for collector in extra:
        combined.register(collector)
    return combined


def exposition(*extra: Collector) -> bytes:
    """The text format Prometheus scrapes."""
    return generate_latest(registry(*extra))


def process_exited(pid: int) -> None:
    """Drop a finished worker's live gauges (in-flight, pool) from multi-process totals."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
