"""Launch switches: admins turn risky features off and on; users get a 503 they can read;
maintenance mode refuses writes and keeps reads; every change is audit-logged."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Request
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from ftw.cli import app as cli
from ftw.config import Settings, get_settings
from ftw.core import switches
from ftw.core.audit import AuditEntry
from ftw.core.db import Database
from ftw.core.switches import Board, Name, Switch
from tests.conftest import PASSWORD, SignUp

JOB = {
    "title": "Leaking kitchen faucet",
    "description": "The kitchen faucet drips all day and the handle is loose at the base.",
    "trade": "plumbing",
    "zip": "10001",
}


async def _set(client: Any, admin: dict[str, str], name: str, on: bool, message: str | None = None) -> Any:
    body: dict[str, Any] = {"on": on} | ({"message": message} if message else {})
    response = await client.put(f"/api/v1/admin/switches/{name}", json=body, headers=admin)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_switched_off_feature_answers_503_with_a_message_then_works_again(
    client: httpx.AsyncClient, admin: dict[str, str], sign_up: SignUp, session: AsyncSession
) -> None:
    homeowner = await sign_up("homeowner")
    changed = await _set(client, admin, "job_posting", False, "Posting is paused while we fix a bug.")
    assert changed["on"] is False
    assert changed["changed_by"] is not None

    refused = await client.post("/api/v1/jobs", json=JOB, headers=homeowner.headers)
    assert refused.status_code == 503
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["retry-after"] == "120"
    assert refused.json()["detail"] == "Posting is paused while we fix a bug."
    assert (await client.get("/api/v1/jobs?territory=36061")).status_code == 200  # reads go on

    await _set(client, admin, "job_posting", True)
    assert (await client.post("/api/v1/jobs", json=JOB, headers=homeowner.headers)).status_code == 201

    logged = (
        await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "admin.switch_changed").order_by(AuditEntry.id)
        )
    ).all()
    assert [(e.target, e.data["on"], e.data["was_on"]) for e in logged] == [
        ("switch:job_posting", False, True),
        ("switch:job_posting", True, False),
    ]
    assert logged[0].data["via"] == "api"


@pytest.mark.parametrize(
    ("name", "role", "method", "path", "body"),
    [
        ("signups", None, "POST", "/api/v1/auth/signup", {}),
        ("photo_uploads", "homeowner", "POST", "/api/v1/jobs/1/photos", None),
        ("boosts", "contractor", "POST", "/api/v1/bids/1/boost", None),
        ("territory_claims", "operator", "POST", "/api/v1/territories/36061/claim", None),
        (
            "instant_payouts",
            "contractor",
            "POST",
            "/api/v1/payouts",
            {"amount_cents": 500, "speed": "instant"},
        ),
    ],
)
async def test_every_risky_feature_has_a_switch(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    sign_up: SignUp,
    name: str,
    role: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    headers = (await sign_up(role)).headers if role else {}
    await _set(client, admin, name, False)
    refused = await client.request(method, path, json=body, headers=headers)
    assert refused.status_code == 503, refused.text
    assert "paused for now" in refused.json()["detail"]
    await _set(client, admin, name, True)
    assert (await client.request(method, path, json=body, headers=headers)).status_code != 503


async def test_standard_payouts_go_on_while_instant_ones_are_off(
    client: httpx.AsyncClient, admin: dict[str, str], sign_up: SignUp
) -> None:
    contractor = await sign_up("contractor")
    await _set(client, admin, "instant_payouts", False)
    standard = await client.post("/api/v1/payouts", json={"amount_cents": 500}, headers=contractor.headers)
    assert standard.status_code != 503


async def test_only_admins_change_switches_and_only_known_ones(
    client: httpx.AsyncClient, admin: dict[str, str], sign_up: SignUp
) -> None:
    homeowner = await sign_up("homeowner")
    put = {"on": False}
    assert (
        await client.put("/api/v1/admin/switches/signups", json=put, headers=homeowner.headers)
    ).status_code == 403
    unknown = await client.put("/api/v1/admin/switches/everything", json=put, headers=admin)
    assert unknown.status_code == 422
    listed = await client.get("/api/v1/admin/switches", headers=admin)
    states = {s["name"]: s["on"] for s in listed.json()}
    assert states == {name.value: name not in switches.NOTICES for name in Name}


async def test_maintenance_refuses_writes_with_retry_after_and_serves_reads(
    client: httpx.AsyncClient, admin: dict[str, str], sign_up: SignUp
) -> None:
    homeowner = await sign_up("homeowner")
    await _set(client, admin, "maintenance", True, "Upgrading the database until 03:00 UTC.")

    refused = await client.post("/api/v1/jobs", json=JOB, headers=homeowner.headers)
    assert refused.status_code == 503
    assert refused.json()["title"] == "Down for maintenance"
    assert refused.json()["detail"] == "Upgrading the database until 03:00 UTC."
    assert refused.headers["retry-after"] == "120"
    assert (await client.get("/api/v1/jobs?territory=36061")).status_code == 200
    assert (await client.get("/api/v1/me", headers=homeowner.headers)).status_code == 200
    login = await client.post("/api/v1/auth/login", json={"email": homeowner.email, "password": PASSWORD})
    assert login.status_code == 200  # readers stay signed in

    page = Request({"type": "http", "app": client._transport.app})  # type: ignore[attr-defined]
    assert await switches.banner(page) == "Upgrading the database until 03:00 UTC."  # for the web app
    await _set(client, admin, "maintenance", False)  # the admin API stays writable
    assert (await client.post("/api/v1/jobs", json=JOB, headers=homeowner.headers)).status_code == 201
    assert await switches.banner(page) is None


async def test_ops_shows_the_switches(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    await _set(client, admin, "sms", False, "Twilio is down")
    page = (await client.get("/ops", headers=admin)).text
    assert "<h2>Switches</h2>" in page
    assert "Twilio is down" in page


async def test_another_instance_sees_a_change_within_the_ttl(
    database: Database, session: AsyncSession
) -> None:
    board = Board(ttl_s=0.2, retry_after_s=1)
    assert await board.is_on(database, Name.SIGNUPS)
    await switches.change(session, name=Name.SIGNUPS, on=False, message=None, actor_id=None, via="test")
    await session.flush()
    assert await board.is_on(database, Name.SIGNUPS)  # its copy is still fresh
    await asyncio.sleep(0.25)
    assert not await board.is_on(database, Name.SIGNUPS)


def test_ftw_switch_turns_a_feature_off_and_on_and_lists_them(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FTW_DATABASE_URL", database_url)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        off = runner.invoke(cli, ["switch", "boosts", "off", "--message", "Boosts are being repriced"])
        assert off.exit_code == 0, off.output
        assert "off boosts  — Boosts are being repriced" in off.output
        listed = runner.invoke(cli, ["switch"])
        assert "off boosts" in listed.output
        assert "on  signups" in listed.output
        assert runner.invoke(cli, ["switch", "boosts", "on"]).exit_code == 0
        assert runner.invoke(cli, ["switch", "everything", "off"]).exit_code == 2
        assert runner.invoke(cli, ["maintenance", "on", "--message", "Back at 3"]).exit_code == 0
        assert "on  maintenance  — Back at 3" in runner.invoke(cli, ["switch", "maintenance"]).output
        assert runner.invoke(cli, ["maintenance", "off"]).exit_code == 0
    finally:
        asyncio.run(_reset(database_url))
        get_settings.cache_clear()


def test_ftw_switch_works_in_a_fresh_process_as_an_operator_runs_it(database_url: str) -> None:
    """The in-process test above has every model imported by the test session already."""
    ftw = Path(sys.executable).with_name("ftw")
    env = os.environ | {"FTW_DATABASE_URL": database_url}
    try:
        ran = subprocess.run(  # noqa: S603 - our own command
            [ftw, "switch", "boosts", "off"], env=env, capture_output=True, text=True, timeout=120
        )
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert "off boosts" in ran.stdout
    finally:
        asyncio.run(_reset(database_url))


async def _reset(url: str) -> None:
    """The CLI commits: put this worker's database back as the other tests expect it."""
    db = Database.connect(url, Settings(environment="test", database_url=url), pool_size=1)
    async with db.session() as session:
        await session.execute(update(Switch).values(enabled=True).where(Switch.name.not_in(switches.NOTICES)))
        await session.execute(update(Switch).values(enabled=False).where(Switch.name.in_(switches.NOTICES)))
    await db.dispose()
