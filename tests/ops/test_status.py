"""/status: the public status page, from the readiness probes, the breakers and the notices."""

from __future__ import annotations

import re

import httpx
import pytest

from ftw.core.breakers import CircuitBreaker
from ftw.ops import status


async def _open(breaker: CircuitBreaker) -> None:
    async def down() -> None:
        raise ConnectionError("vendor down")

    for _ in range(breaker.policy.failures):
        with pytest.raises(ConnectionError):
            await breaker.call(down)
    assert breaker.state == "open"


def _conditions(page: str) -> dict[str, str]:
    rows = re.findall(r'<li><span>([^<]+)</span><span class="(up|degraded|down)">', page)
    return dict(rows)


async def test_everything_up_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/status")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=5"
    assert "All systems operational" in response.text
    assert set(_conditions(response.text).values()) == {"up"}
    assert {"Database", "Text messages", "Payments"} <= set(_conditions(response.text))


async def test_an_incident_an_open_breaker_and_a_paused_feature_show(
    client: httpx.AsyncClient, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = client._transport.app  # type: ignore[attr-defined]
    notice = {"on": True, "message": "Text messages are delayed <by our provider>"}
    assert (
        await client.put("/api/v1/admin/switches/incident", json=notice, headers=admin)
    ).status_code == 200
    await client.put("/api/v1/admin/switches/email", json={"on": False}, headers=admin)
    await _open(app.state.breakers["sms"])
    monkeypatch.setattr(status, "CACHE_S", 0.0)
    page = (await client.get("/status")).text
    assert "<strong>Incident:</strong> Text messages are delayed &lt;by our provider&gt;" in page  # escaped
    assert _conditions(page)["Text messages"] == "down"
    assert _conditions(page)["E-mail"] == "degraded"
    assert 'E-mail</span><span class="degraded">degraded (paused)' in page
    assert _conditions(page)["Database"] == "up"
    assert "Part of the service is down" in page


async def test_the_page_is_kept_a_few_seconds(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    first = (await client.get("/status")).text
    await client.put("/api/v1/admin/switches/incident", json={"on": True, "message": "New"}, headers=admin)
    assert (await client.get("/status")).text == first  # the cached copy
