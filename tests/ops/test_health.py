"""Liveness, readiness and the drain on shutdown."""

from __future__ import annotations

import signal
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.testing import capture_logs

from ftw.app import create_app
from ftw.config import Settings
from ftw.core.db import Database
from tests.ops.conftest import serve


async def test_healthz_answers_without_consulting_any_dependency(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_says_only_up_and_logs_each_probe(client: httpx.AsyncClient) -> None:
    with capture_logs() as logs:
        response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "up"}
    assert not [line for line in logs if line["event"] == "not_ready"]


def _not_ready(logs: list[MutableMapping[str, Any]]) -> dict[str, Any]:
    (line,) = [line for line in logs if line["event"] == "not_ready"]
    checks: dict[str, Any] = line["checks"]
    return checks


async def test_readyz_is_503_when_the_database_is_not_at_head(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await session.execute(text("UPDATE alembic_version SET version_num = '0003'"))
    with capture_logs() as logs:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "down"}  # no revision, no error text for the public
    database = _not_ready(logs)["database"]
    assert database["ok"] is False
    assert database["revision"] == "0003"
    assert "ftw migrate" in database["error"]


async def test_readyz_stays_ready_when_a_newer_release_has_migrated(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """During a rolling deploy the old pods keep serving the expanded schema."""
    await session.execute(text("UPDATE alembic_version SET version_num = 'f00dfacade01'"))
    response = await client.get("/readyz")
    assert response.status_code == 200


async def test_readyz_probes_redis_when_configured(settings: Settings, database: Database) -> None:
    for url, ready in (("redis://127.0.0.1:6379/0", True), ("redis://127.0.0.1:1/0", False)):
        app = create_app(settings.model_copy(update={"redis_url": url}), database=database)
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                with capture_logs() as logs:
                    response = await client.get("/readyz")
        finally:
            await app.state.redis.aclose()
        assert response.status_code == (200 if ready else 503)
        if not ready:
            redis = _not_ready(logs)["redis"]
            assert "ms" in redis
            assert "ConnectionError" in redis["error"]


async def test_readyz_is_503_while_draining_and_healthz_stays_200(client: httpx.AsyncClient) -> None:
    client._transport.app.state.lifecycle.draining = True  # type: ignore[attr-defined]  # what SIGTERM sets
    assert (await client.get("/readyz")).status_code == 503
    assert (await client.get("/readyz")).json() == {"status": "down"}
    assert (await client.get("/healthz")).status_code == 200


def test_sigterm_turns_readiness_503_while_the_server_keeps_serving(
    database_url: str, tmp_path: Path
) -> None:
    served = serve(database_url, tmp_path, FTW_SHUTDOWN_DELAY_S="120")
    try:
        assert httpx.get(served.url + "/readyz").status_code == 200
        served.process.send_signal(signal.SIGTERM)
        draining = httpx.get(served.url + "/readyz")
        assert draining.status_code == 503
        assert draining.json() == {"status": "down"}
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
