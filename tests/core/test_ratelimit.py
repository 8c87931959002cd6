"""Rate limits: tiers, endpoint limits, headers, client addresses, and a Redis outage."""

from __future__ import annotations

import asyncio
import ipaddress
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as redis
from limits import parse
from prometheus_client import REGISTRY
from starlette.requests import Request

from ftw.app import create_app
from ftw.config import EndpointLimits, RateTiers, Settings
from ftw.core.db import Database
from ftw.core.ratelimit import Limiter, _tier, client_ip
from tests.conftest import SignUp
from tests.support.silent import silent_server

REDIS_URL = "redis://127.0.0.1:6379/13"
CLOSED_PORT_URL = "redis://127.0.0.1:1/0"
BROWSE = ("/api/v1/jobs", {"territory": "36061"})


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    name = f"test-{uuid.uuid4().hex}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    async for key in client.scan_iter(match=f"*{name}*"):
        await client.delete(key)
    await client.aclose()


def limited(settings: Settings, prefix: str, **update: object) -> Settings:
    return settings.model_copy(
        update={"rate_limits_enabled": True, "redis_url": REDIS_URL, "redis_prefix": prefix, **update}
    )


def client_for(settings: Settings, database: Database, address: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(settings, database=database), client=(address, 4321))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def rejections(tier: str) -> float:
    return REGISTRY.get_sample_value("ftw_rate_limit_rejections_total", {"tier": tier}) or 0.0


async def test_anonymous_callers_get_their_tier_with_headers_and_a_problem_429(
    settings: Settings, database: Database, prefix: str
) -> None:
    configured = limited(settings, prefix, rate_limits=RateTiers(anonymous=3))
    before = rejections("anonymous")
    async with client_for(configured, database) as client:
        for remaining in (2, 1, 0):
            response = await client.get("/api/v1/territories/36061")
            assert response.status_code == 200, response.text
            assert response.headers["RateLimit-Limit"] == "3"
            assert response.headers["RateLimit-Remaining"] == str(remaining)
            assert 59 <= int(response.headers["RateLimit-Reset"]) <= 60
        refused = await client.get("/api/v1/territories/36061")
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["status"] == 429
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["Retry-After"] == refused.headers["RateLimit-Reset"]
    assert rejections("anonymous") == before + 1


async def test_health_and_metrics_are_not_limited(
    settings: Settings, database: Database, prefix: str
) -> None:
    configured = limited(settings, prefix, rate_limits=RateTiers(anonymous=1))
    async with client_for(configured, database) as client:
        for _ in range(3):
            assert "RateLimit-Limit" not in (await client.get("/healthz")).headers


async def test_the_tighter_endpoint_limit_wins(
    settings: Settings, database: Database, prefix: str, sign_up: SignUp
) -> None:
    configured = limited(settings, prefix, endpoint_limits=EndpointLimits(list_jobs="2/minute"))
    owner = await sign_up()
    async with client_for(configured, database) as client:
        first = await client.get(*BROWSE[:1], params=BROWSE[1], headers=owner.headers)
        assert first.headers["RateLimit-Limit"] == "2"
        assert first.headers["RateLimit-Remaining"] == "1"
        other = await client.get("/api/v1/territories/36061", headers=owner.headers)
        assert other.headers["RateLimit-Limit"] == "200"  # the authenticated tier elsewhere
        await client.get(*BROWSE[:1], params=BROWSE[1], headers=owner.headers)
        refused = await client.get(*BROWSE[:1], params=BROWSE[1], headers=owner.headers)
    assert refused.status_code == 429
    assert refused.headers["RateLimit-Limit"] == "2"
    assert int(refused.headers["Retry-After"]) >= 1


async def test_signed_in_callers_are_counted_per_user_not_per_address(
    settings: Settings, database: Database, prefix: str, sign_up: SignUp
) -> None:
    configured = limited(settings, prefix, rate_limits=RateTiers(authenticated=2))
    one, two = await sign_up(), await sign_up()
    async with client_for(configured, database) as client:
        for account in (one, two):
            statuses = [
                (await client.get("/api/v1/me", headers=account.headers)).status_code for _ in range(3)
            ]
            assert statuses == [200, 200, 429]


async def test_forwarded_for_is_honoured_only_from_trusted_proxies(
    settings: Settings, database: Database, prefix: str
) -> None:
    tiers = RateTiers(anonymous=1)
    trusted = limited(settings, prefix, rate_limits=tiers, trusted_proxies=["10.0.0.0/8"])
    async with client_for(trusted, database, address="10.1.2.3") as client:
        for address in ("203.0.113.7", "203.0.113.8"):
            ok = await client.get("/api/v1/territories/36061", headers={"X-Forwarded-For": address})
            assert ok.status_code == 200
    untrusted = limited(settings, prefix + "-b", rate_limits=tiers, trusted_proxies=["10.0.0.0/8"])
    async with client_for(untrusted, database, address="198.51.100.1") as client:
        codes = [
            (await client.get("/api/v1/territories/36061", headers={"X-Forwarded-For": a})).status_code
            for a in ("203.0.113.7", "203.0.113.8")
        ]
    assert codes == [200, 429]  # a spoofed header from the internet buys nothing


def _request(peer: str, forwarded: str | None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "client": (peer, 1), "headers": headers})


def test_client_address_walks_forwarded_for_right_to_left_through_trusted_hops() -> None:
    trusted = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.168.0.0/16")]
    assert client_ip(_request("10.0.0.1", "1.2.3.4, 192.168.1.1"), trusted) == "1.2.3.4"
    assert client_ip(_request("10.0.0.1", "6.6.6.6, 1.2.3.4"), trusted) == "1.2.3.4"  # spoofed left part
    assert client_ip(_request("10.0.0.1", None), trusted) == "10.0.0.1"
    assert client_ip(_request("10.0.0.1", "junk"), trusted) == "10.0.0.1"
    assert client_ip(_request("8.8.8.8", "1.2.3.4"), trusted) == "8.8.8.8"


def test_tiers_by_role_and_plan() -> None:
    assert _tier("homeowner", False) == "authenticated"
    assert _tier("contractor", True) == "pro"
    assert _tier("operator", False) == "operator"
    assert _tier("admin", False) == "operator"


async def test_limits_are_shared_through_redis(settings: Settings, prefix: str) -> None:
    """Two limiters (two instances) on one Redis count one window between them."""
    configured = limited(settings, prefix)
    one, two = Limiter(configured), Limiter(configured)
    limits = [(one.tier_item("anonymous"), "tier", "ip:1.2.3.4")]
    decisions = [await (one if i % 2 else two).hit(limits) for i in range(61)]
    assert [d.allowed for d in decisions] == [True] * 60 + [False]
    await one.aclose()
    await two.aclose()


async def test_a_window_resets_when_its_oldest_hit_leaves_it(settings: Settings, prefix: str) -> None:
    """RateLimit-Reset counts from the oldest hit still in the window, not the newest: after
    hits 1.5 s apart in a 10-second window, the first frees a place in about 8.5 s."""
    limiter = Limiter(limited(settings, prefix))
    limits = [(parse("2 per 10 seconds"), "tier", "ip:5.6.7.8")]
    first = await limiter.hit(limits)
    await asyncio.sleep(1.5)
    second = await limiter.hit(limits)
    refused = await limiter.hit(limits)
    await limiter.aclose()
    assert (first.allowed, first.remaining, first.reset_after_s) == (True, 1, 10)
    assert (second.allowed, second.remaining, second.reset_after_s) == (True, 0, 9)
    assert (refused.allowed, refused.remaining, refused.reset_after_s) == (False, 0, 9)


async def test_redis_down_fails_open_to_per_process_limits(
    settings: Settings, database: Database, prefix: str
) -> None:
    configured = limited(settings, prefix, redis_url=CLOSED_PORT_URL, rate_limits=RateTiers(anonymous=2))
    async with client_for(configured, database) as client:
        codes = [(await client.get("/api/v1/territories/36061")).status_code for _ in range(3)]
        last = await client.get("/api/v1/territories/36061")
    assert codes == [200, 200, 429]  # still limited, by this process alone
    assert last.headers["RateLimit-Limit"] == "2"


async def test_a_redis_that_never_answers_costs_requests_a_bounded_wait(
    settings: Settings, database: Database, prefix: str
) -> None:
    async with silent_server() as url:
        configured = limited(settings, prefix, redis_url=url, rate_limits=RateTiers(anonymous=2))
        async with client_for(configured, database) as client, asyncio.timeout(10):  # a hang fails
            codes = [(await client.get("/api/v1/territories/36061")).status_code for _ in range(3)]
    assert codes == [200, 200, 429]  # answered, and still limited by this process alone


async def test_a_redis_that_lost_its_scripts_still_counts_in_redis(settings: Settings, prefix: str) -> None:
    """After a Redis restart (SCRIPT FLUSH here) the limiter reloads its script instead of
    falling back to counting in this process: a second instance still sees the hits."""
    configured = limited(settings, prefix)
    one, two = Limiter(configured), Limiter(configured)
    await one.warm()
    admin = redis.Redis.from_url(REDIS_URL)
    await admin.script_flush()
    await admin.aclose()
    limits = [(parse("3/minute"), "tier", "ip:9.9.9.9")]
    decisions = [await one.hit(limits), await one.hit(limits), await two.hit(limits), await two.hit(limits)]
    await one.aclose()
    await two.aclose()
    assert [d.allowed for d in decisions] == [True, True, True, False]
