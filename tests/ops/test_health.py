"""Liveness, readiness and the drain on shutdown."""

from __future__ import annotations

import signal

import httpx
from sqlalchemy import text

from ftw.app import create_app
from ftw.core import migrations
from tests.ops.conftest import serve


async def test_healthz_answers_without_consulting_any_dependency(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_each_probe_and_its_latency(client):
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    database = body["checks"]["database"]
    assert database["ok"] is True
    assert database["revision"] == database["head"] == migrations.head_revision()
    assert database["ms"] >= 0
    assert "redis" not in body["checks"]  # not configured


async def test_readyz_is_503_when_the_database_is_not_at_head(client, session):
    await session.execute(text("UPDATE alembic_version SET version_num = '0003'"))
    response = await client.get("/readyz")
    assert response.status_code == 503
    database = response.json()["checks"]["database"]
    assert database["ok"] is False
    assert database["revision"] == "0003"
    assert "ftw migrate" in database["error"]


async def test_readyz_stays_ready_when_a_newer_release_has_migrated(client, session):
    """During a rolling deploy the old pods keep serving the expanded schema."""
    await session.execute(text("UPDATE alembic_version SET version_num = 'f00dfacade01'"))
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"]["revision"] == "f00dfacade01"


async def test_readyz_probes_redis_when_configured(settings, database):
    for url, ready in (("redis://127.0.0.1:6379/0", True), ("redis://127.0.0.1:1/0", False)):
        app = create_app(settings.model_copy(update={"redis_url": url}), database=database)
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                response = await client.get("/readyz")
        finally:
            await app.state.redis.aclose()
        assert response.status_code == (200 if ready else 503)
        redis = response.json()["checks"]["redis"]
        assert redis["ok"] is ready
        assert "ms" in redis
        if not ready:
            assert "ConnectionError" in redis["error"]


async def test_readyz_is_503_while_draining_and_healthz_stays_200(client):
    client._transport.app.state.lifecycle.draining = True  # what SIGTERM sets
    assert (await client.get("/readyz")).status_code == 503
    assert (await client.get("/readyz")).json()["status"] == "draining"
    assert (await client.get("/healthz")).status_code == 200


def test_sigterm_turns_readiness_503_while_the_server_keeps_serving(database_url, tmp_path):
    served = serve(database_url, tmp_path, FTW_SHUTDOWN_DELAY_S="120")
    try:
        assert httpx.get(served.url + "/readyz").status_code == 200
        served.process.send_signal(signal.SIGTERM)
        draining = httpx.get(served.url + "/readyz")
        assert draining.status_code == 503
        assert draining.json()["status"] == "draining"
        # Still serving for the load balancer's sake: liveness and real requests answer.
        assert httpx.get(served.url + "/healthz").status_code == 200
        assert httpx.get(served.url + "/api/v1/territories/06037").status_code == 200
        assert served.process.poll() is None
        # A second signal stops without waiting out the delay.
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=60) == 128 + signal.SIGTERM  # exited through Python
    finally:
        served.stop()
    assert "draining" in served.output()
