"""/metrics is for Prometheus only: its token when one is set, and production sets one."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from ftw.app import create_app
from ftw.config import Settings
from ftw.core.db import Database
from ftw.sandboxes import SANDBOXES  # production's stand-ins, allowed by name here

TOKEN = "scrape-token-of-at-least-some-length"


async def _get(
    settings: Settings, database: Database, headers: dict[str, str] | None = None
) -> httpx.Response:
    app = create_app(settings, database=database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        return await client.get("/metrics", headers=headers)


async def test_metrics_want_the_token_when_one_is_set(settings: Settings, database: Database) -> None:
    guarded = settings.model_copy(update={"metrics_token": SecretStr(TOKEN)})
    anonymous = await _get(guarded, database)
    wrong = await _get(guarded, database, {"Authorization": "Bearer not-the-token"})
    right = await _get(guarded, database, {"Authorization": f"Bearer {TOKEN}"})
    assert anonymous.status_code == wrong.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert right.status_code == 200
    assert "ftw_http_requests_total" in right.text or "# HELP" in right.text


async def test_production_serves_no_metrics_without_a_token(settings: Settings, database: Database) -> None:
    production = settings.model_copy(update={"environment": "production", "allow_sandbox": set(SANDBOXES)})
    refused = await _get(production, database)
    assert refused.status_code == 403
