"""Every error leaves in one problem+json shape, including unexpected ones."""

from __future__ import annotations

import httpx

from ftw.app import create_app
from ftw.config import Settings
from ftw.core.db import Database


async def test_an_unexpected_failure_is_a_problem_500_without_internals(
    settings: Settings, database: Database
) -> None:
    app = create_app(settings, database=database)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Internal server error",
        "status": 500,
        "instance": "/boom",
    }
    assert "secret" not in response.text


async def test_unknown_route_and_wrong_method_are_problems(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nothing-here")
    assert (missing.status_code, missing.headers["content-type"]) == (404, "application/problem+json")
    wrong = await client.delete("/api/v1/territories")
    assert (wrong.status_code, wrong.json()["title"]) == (405, "Method not allowed")


async def test_malformed_json_is_a_422_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
