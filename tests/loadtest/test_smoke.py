"""A CI-sized load test: `ftw serve` on a seeded throwaway database, a few Locust users for ~20 s."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ftw.config import Settings
from ftw.loadtest.profiles import PROFILES
from ftw.loadtest.runner import account_pool, run
from tests.ops.conftest import serve


@pytest.fixture
def server(seeded: str, tmp_path: Path) -> Iterator[str]:
    """`ftw serve` on a free port against the seeded database; always stopped afterwards."""
    # Trust the local generator as a proxy: each Locust user then has an address of its own.
    served = serve(seeded, tmp_path / "served", FTW_TRUSTED_PROXIES='["127.0.0.1/32"]')
    try:
        yield served.url
    finally:
        served.stop()


async def test_the_pool_holds_every_role_of_the_seeded_population(seeded: str) -> None:
    pool = await account_pool(seeded, per_role=50)
    assert {role: bool(accounts) for role, accounts in pool.items()} == {
        "homeowner": True,
        "contractor": True,
        "operator": True,
    }
    assert all(a["email"].endswith("@example.com") and len(a["fips"]) == 5 for a in pool["homeowner"])


def test_a_short_smoke_run_writes_a_passing_report(
    seeded: str, server: str, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Quicker users than launch day's pacing, so 20 seconds cover several steps each.
    monkeypatch.setenv("FTW_LOADTEST__THINK_MIN_S", "1")
    monkeypatch.setenv("FTW_LOADTEST__THINK_MAX_S", "3")
    reports = tmp_path / "reports"
    summary, report = run(
        PROFILES["smoke"],
        database_url=seeded,
        host=server,
        targets=settings.performance,
        users=5,
        duration_s=20,
        reports=reports,
    )
    data = json.loads(report.read_text())
    assert json.loads((reports / "latest.json").read_text()) == data
    assert data["requests"] > 0
    assert data["error_percent"] < settings.performance.max_error_percent, data["endpoints"]
    assert {"finished_at", "p50_ms", "p95_ms", "error_percent"} <= data.keys()
    names = {e["name"] for e in data["endpoints"]}
    assert {"auth/login", "me", "jobs?territory"} <= names
    assert {"page /dashboard", "page /board"} <= names, "the journeys view pages too"
    assert Path(data["html"]).stat().st_size > 0
    assert summary.passed
