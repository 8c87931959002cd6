"""/metrics: what a Prometheus scrape sees after real requests, queries and events.

Metrics are process-wide and other tests add to them, so each test compares a scrape
before and after what it does.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from structlog.testing import capture_logs

from ftw.app import create_app
from ftw.config import Settings
from ftw.core import metrics
from ftw.core.activity import LocalActiveUsers, RedisActiveUsers
from ftw.core.db import Database, create_engine
from ftw.core.tasks import enqueue
from tests.conftest import SignUp

TERRITORY = "/api/v1/territories/{fips}"
REDIS_URL = "redis://127.0.0.1:6379/0"


def value(exposition: str, name: str, **labels: str) -> float:
    """One sample's value in a scrape; 0 when the series does not exist yet."""
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def label_values(exposition: str, name: str, label: str) -> set[str]:
    return {
        s.labels[label]
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
        if s.name == name and label in s.labels
    }


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return str(response.text)


async def test_requests_are_counted_by_route_template_method_and_status(client: httpx.AsyncClient) -> None:
    labels = {"route": TERRITORY, "method": "GET", "status": "200"}
    before = await scrape(client)
    for _ in range(2):
        assert (await client.get("/api/v1/territories/06037")).status_code == 200
    assert (await client.get("/api/v1/territories/99999")).status_code == 404
    after = await scrape(client)

    assert value(after, "http_requests_total", **labels) - value(before, "http_requests_total", **labels) == 2
    assert (
        value(after, "http_request_duration_seconds_count", **labels)
        - value(before, "http_request_duration_seconds_count", **labels)
        == 2
    )
    missing = {**labels, "status": "404"}
    assert (
        value(after, "http_requests_total", **missing) - value(before, "http_requests_total", **missing) == 1
    )
    assert "/api/v1/territories/06037" not in label_values(after, "http_requests_total", "route")


async def test_latency_buckets_resolve_5_ms_to_5_s_with_edges_at_the_targets(
    client: httpx.AsyncClient,
) -> None:
    await client.get("/api/v1/territories/06037")
    edges = {
        float(le) for le in label_values(await scrape(client), "http_request_duration_seconds_bucket", "le")
    }
    assert min(edges) == 0.005
    assert max(edges - {float("inf")}) == 5.0
    assert {0.15, 0.8, 1.0, 2.0} <= edges  # p50 and p95 targets, alert thresholds


async def test_unknown_paths_share_one_label_so_scanners_cannot_add_series(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    await client.get("/wp-admin/setup.php")
    await client.get("/.env")
    after = await scrape(client)
    labels = {"route": "unmatched", "method": "GET", "status": "404"}
    assert value(after, "http_requests_total", **labels) - value(before, "http_requests_total", **labels) == 2
    routes = label_values(after, "http_requests_total", "route")
    assert "/.env" not in routes
    assert "/wp-admin/setup.php" not in routes


async def test_probes_and_scrapes_are_not_user_traffic(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    await client.get("/readyz")
    exposition = await scrape(client)
    assert not {"/healthz", "/readyz", "/metrics"} & label_values(exposition, "http_requests_total", "route")
    # The scrape itself is the request in flight while it is answered.
    assert value(exposition, "http_requests_in_flight") >= 1


async def test_every_declared_series_is_exported_from_the_start(client: httpx.AsyncClient) -> None:
    exposition = await scrape(client)
    assert label_values(exposition, "ftw_breaker_state", "vendor") == {
        "database",
        "llm",
        "payments",
        "sms",
        "email",
        "storage",
    }
    assert "job_listings" in label_values(exposition, "ftw_cache_requests_total", "kind")
    assert label_values(exposition, "ftw_rate_limit_rejections_total", "tier") == {
        "anonymous",
        "authenticated",
        "pro",
        "operator",
    }
    for name in ("jobs_posted", "bids", "messages", "payments", "payouts"):
        assert f"ftw_{name}_total" in exposition
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "ftw_db_pool_max_connections"):
        assert name in exposition


async def test_helpers_move_their_series(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    metrics.cache_lookup("job_listings", hit=True)
    metrics.cache_lookup("job_listings", hit=False)
    metrics.rate_limited("anonymous")
    metrics.count("payments", "declined")
    metrics.breaker_changed("llm", "open")
    try:
        after = await scrape(client)
    finally:
        metrics.breaker_changed("llm", "closed")

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("ftw_cache_requests_total", kind="job_listings", result="hit") == 1
    assert moved("ftw_cache_requests_total", kind="job_listings", result="miss") == 1
    assert moved("ftw_rate_limit_rejections_total", tier="anonymous") == 1
    assert moved("ftw_payments_total", outcome="declined") == 1
    assert value(after, "ftw_breaker_state", vendor="llm") == 2
    assert moved("ftw_breaker_transitions_total", vendor="llm", state="open") == 1


async def test_business_events_count_only_when_their_transaction_commits(
    client: httpx.AsyncClient, database: Database
) -> None:
    before = await scrape(client)
    async with database.session() as session:
        metrics.count("jobs_posted", session=session)

    async def failing_request() -> None:
        async with database.session() as session:
            metrics.count("jobs_posted", session=session)
            raise RuntimeError("the request failed after the job was flushed")

    with pytest.raises(RuntimeError):
        await failing_request()
    after = await scrape(client)
    posted = value(after, "ftw_jobs_posted_total", outcome="ok") - value(
        before, "ftw_jobs_posted_total", outcome="ok"
    )
    assert posted == 1


async def test_pool_and_query_metrics_follow_a_real_pool(engine: AsyncEngine) -> None:
    def scraped(name: str, **labels: str) -> float:
        return value(metrics.exposition().decode(), name, **labels)

    checked_out = scraped("ftw_db_pool_checked_out_connections")
    queries = scraped("ftw_db_query_duration_seconds_count", operation="select")
    waits = scraped("ftw_db_pool_wait_seconds_count")
    async with engine.connect() as conn:
        assert scraped("ftw_db_pool_checked_out_connections") == checked_out + 1
        await conn.execute(text("SELECT 1"))
    assert scraped("ftw_db_pool_checked_out_connections") == checked_out
    assert scraped("ftw_db_query_duration_seconds_count", operation="select") == queries + 1
    assert scraped("ftw_db_pool_wait_seconds_count") == waits + 1
    assert scraped("ftw_db_pool_open_connections") >= 1


@pytest.mark.parametrize(("threshold_ms", "logged"), [(50, True), (60_000, False)])
async def test_statements_over_the_slow_query_threshold_are_logged_with_their_sql(
    database_url: str, settings: Settings, threshold_ms: int, logged: bool
) -> None:
    engine = create_engine(
        database_url, settings.model_copy(update={"slow_query_ms": threshold_ms}), pool_size=1
    )
    try:
        with capture_logs() as logs:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT pg_sleep(:seconds)"), {"seconds": 0.2})
    finally:
        await engine.dispose()
    slow = [entry for entry in logs if entry["event"] == "slow_query"]
    if logged:
        assert len(slow) == 1
        assert slow[0]["sql"] == "SELECT pg_sleep($1)"  # the statement, never its parameters
        assert slow[0]["duration_ms"] >= 200
        assert slow[0]["operation"] == "select"
    else:
        assert slow == []


async def test_queue_depth_and_oldest_task_age_are_read_at_scrape_time(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    before = await scrape(client)
    assert value(before, "ftw_queue_depth") == 0
    await enqueue(session, "test.metrics", {"n": 1})
    await enqueue(session, "test.metrics", {"n": 2})
    after = await scrape(client)
    assert value(after, "ftw_queue_depth") == 2
    assert value(after, "ftw_queue_oldest_task_age_seconds") >= 0


async def test_active_users_are_distinct_signed_in_users(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    first, second = await sign_up("homeowner"), await sign_up("contractor")
    for account in (first, first, second):
        assert (await client.get("/api/v1/me", headers=account.headers)).status_code == 200
    await client.get("/api/v1/territories/06037")  # anonymous: not a user
    assert value(await scrape(client), "ftw_active_users") == 2


async def test_active_users_expire_after_five_minutes() -> None:
    now = [1_000.0]
    users = LocalActiveUsers(clock=lambda: now[0])
    await users.seen(1)
    await users.seen(2)
    now[0] += 240
    await users.seen(2)
    assert await users.count() == 2
    now[0] += 120  # user 1 last seen 6 minutes ago
    assert await users.count() == 1


async def test_active_users_are_shared_by_instances_through_redis(
    settings: Settings, database: Database, sign_up: SignUp
) -> None:
    shared = f"ftw:test:active:{uuid.uuid4().hex}"
    with_redis = settings.model_copy(update={"redis_url": REDIS_URL})
    instances = [create_app(with_redis, database=database) for _ in range(2)]
    for app in instances:
        app.state.active_users = RedisActiveUsers(app.state.redis, key=shared)
    first, second = await sign_up("homeowner"), await sign_up("operator")
    try:
        for app, account in zip(instances, (first, second), strict=True):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                assert (await client.get("/api/v1/me", headers=account.headers)).status_code == 200
        for app in instances:  # what each instance's flusher does every few seconds
            await app.state.active_users.flush()
        for app in instances:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                assert value(await scrape(client), "ftw_active_users") == 2
    finally:
        await instances[0].state.redis.delete(shared)
        for app in instances:
            await app.state.redis.aclose()


async def test_redis_active_users_expire_after_five_minutes() -> None:
    redis = Redis.from_url(REDIS_URL)
    now = [10_000.0]
    users = RedisActiveUsers(redis, key=f"ftw:test:active:{uuid.uuid4().hex}", clock=lambda: now[0])
    try:
        await users.seen(7)
        await users.seen(7)  # written once per refresh interval
        assert await users.count() == 1
        now[0] += 301
        assert await users.count() == 0
    finally:
        await redis.delete(users.key)
        await redis.aclose()
