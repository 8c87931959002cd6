"""/ops: the overview page for admins."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.core import metrics
from ftw.core.tasks import enqueue
from ftw.ops.overview import Sample, Window, quantile
from tests.conftest import SignUp


async def test_ops_renders_the_overview_for_an_admin(
    client: httpx.AsyncClient, admin: dict[str, str], session: AsyncSession
) -> None:
    await enqueue(session, "notifications.send", {"id": 1})
    await client.get("/api/v1/territories/06037")
    response = await client.get("/ops", headers=admin)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    for figure in (
        "Active users",
        "Requests/s",
        "p50",
        "p95",
        "p99",
        "Error rate",
        "DB connections",
        "Instances",
        "Query time",
        "Cache hit",
        "CPU",
        "Memory",
        "Circuit breakers",
        "Task queue",
    ):
        assert figure in page
    assert '<meta http-equiv="refresh"' in page
    assert "notifications.send" in page  # the queued task, from the database
    assert re.search(r"payments</td><td[^>]*><span class=\"state-closed\">closed", page)
    assert "script-src 'none'" in response.headers["content-security-policy"]


async def test_ops_is_for_admins_only(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    for role in ("homeowner", "contractor", "operator"):
        account = await sign_up(role)
        assert (await client.get("/ops", headers=account.headers)).status_code == 403
    assert (await client.get("/ops")).status_code == 401


async def test_ops_live_is_the_browser_sign_in_with_a_nonced_script(client: httpx.AsyncClient) -> None:
    response = await client.get("/ops/live")
    assert response.status_code == 200
    nonce = re.search(r'<script nonce="([^"]+)">', response.text)
    assert nonce is not None
    assert f"'nonce-{nonce.group(1)}'" in response.headers["content-security-policy"]
    assert "Requests/s" not in response.text  # no figures without signing in


def test_quantiles_are_interpolated_like_prometheus() -> None:
    bounds = (*metrics.HTTP_BUCKETS, float("inf"))
    counts = [0.0 if b <= 1.0 else 100.0 for b in bounds]  # every request took 1-1.5 s
    assert quantile(0.95, bounds, counts) == pytest.approx(1.475)  # what promtool's test expects
    assert quantile(0.5, bounds, [0.0] * len(bounds)) is None
    assert quantile(0.99, bounds, [0.0] * (len(bounds) - 1) + [10.0]) == 5.0  # beyond the last edge


def test_each_view_measures_the_last_five_minutes() -> None:
    window = Window(start=Sample(at=0.0))
    assert window.baseline(Sample(at=60.0)).at == 0.0  # early on: since start
    assert window.baseline(Sample(at=200.0)).at == 0.0
    assert window.baseline(Sample(at=400.0)).at == 60.0  # the newest sample at least 5 min old
    assert window.baseline(Sample(at=401.0)).at == 60.0
