"""The circuit breaker state machine (on a fake clock) and the admin breakers endpoints."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from prometheus_client import REGISTRY

from ftw.config import Breaker, Breakers
from ftw.core.breakers import BreakerBoard, BreakerOpen, CircuitBreaker
from tests.conftest import SignUp

POLICY = Breaker(failures=3, call_timeout_s=0.2, reset_timeout_s=30)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def ok() -> str:
    return "ok"


async def boom() -> str:
    raise ConnectionError("refused")


async def trip(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.policy.failures):
        with pytest.raises(ConnectionError):
            await breaker.call(boom)


def gauge(vendor: str) -> float | None:
    return REGISTRY.get_sample_value("ftw_breaker_state", {"vendor": vendor})


async def test_consecutive_failures_open_and_a_success_in_between_resets_the_count() -> None:
    breaker = CircuitBreaker("sms", POLICY, clock=Clock())
    for _ in range(POLICY.failures - 1):
        with pytest.raises(ConnectionError):
            await breaker.call(boom)
    await breaker.call(ok)
    assert (breaker.state, breaker.consecutive_failures) == ("closed", 0)
    await trip(breaker)
    assert breaker.state == "open"
    assert breaker.last_failure == "ConnectionError: refused"
    assert breaker.opened_at is not None
    assert gauge("sms") == 2


async def test_open_rejects_until_the_reset_timeout_then_two_successes_close() -> None:
    clock = Clock()
    breaker = CircuitBreaker("email", POLICY, clock=clock)
    await trip(breaker)
    calls = 0

    async def counted() -> str:
        nonlocal calls
        calls += 1
        return "ok"

    with pytest.raises(BreakerOpen) as rejected:
        await breaker.call(counted)
    assert calls == 0
    assert rejected.value.retry_in_s == pytest.approx(30)
    clock.now += POLICY.reset_timeout_s
    assert breaker.state == "half_open"
    assert gauge("email") == 1
    await breaker.call(counted)
    assert breaker.state == "half_open"
    await breaker.call(counted)
    assert breaker.state == "closed"  # type: ignore[comparison-overlap]  # the call moved it; mypy narrowed it
    assert gauge("email") == 0
    assert calls == 2


async def test_half_open_lets_only_a_limited_number_of_probes_through_at_once() -> None:
    clock = Clock()
    breaker = CircuitBreaker("storage", POLICY, clock=clock)
    await trip(breaker)
    clock.now += POLICY.reset_timeout_s
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "ok"

    probes = [asyncio.create_task(breaker.call(slow)) for _ in range(POLICY.successes_to_close)]
    await asyncio.sleep(0)
    with pytest.raises(BreakerOpen):
        await breaker.call(ok)  # both probe slots are taken
    release.set()
    assert await asyncio.gather(*probes) == ["ok", "ok"]
    assert breaker.state == "closed"


async def test_the_call_timeout_cancels_the_call_and_counts_as_a_failure() -> None:
    breaker = CircuitBreaker("llm", POLICY, clock=Clock())
    cancelled = asyncio.Event()

    async def hang() -> str:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "late"

    with pytest.raises(TimeoutError):
        await breaker.call(hang)
    assert cancelled.is_set()
    assert breaker.consecutive_failures == 1


async def test_answered_errors_count_as_successes() -> None:
    breaker = CircuitBreaker("payments", POLICY, clock=Clock())
    for _ in range(POLICY.failures + 1):
        with pytest.raises(ValueError, match="declined"):
            await breaker.call(_declined, answered=lambda exc: isinstance(exc, ValueError))
    assert breaker.state == "closed"
    assert breaker.successes == POLICY.failures + 1


async def _declined() -> str:
    raise ValueError("declined")


def test_the_board_has_one_breaker_per_vendor_with_its_thresholds() -> None:
    board = BreakerBoard(Breakers())
    assert set(board) == {"database", "llm", "payments", "sms", "email", "storage"}
    assert (board["llm"].policy.failures, board["llm"].policy.call_timeout_s) == (3, 30)
    assert board["payments"].policy.reset_timeout_s == 30


async def test_admins_list_every_breaker_and_reset_one(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    app = client._transport.app  # type: ignore[attr-defined]
    payments = app.state.breakers["payments"]
    for _ in range(payments.policy.failures):
        with pytest.raises(ConnectionError):
            await payments.call(boom)

    listed = await client.get("/api/v1/admin/breakers", headers=admin)
    assert listed.status_code == 200
    by_name = {b["name"]: b for b in listed.json()}
    assert set(by_name) == set(Breakers.model_fields)
    assert by_name["payments"]["state"] == "open"
    assert by_name["payments"]["failures"] == 5
    assert by_name["payments"]["failure_threshold"] == 5
    assert by_name["payments"]["last_failure"] == "ConnectionError: refused"
    assert by_name["sms"]["state"] == "closed"

    reset = await client.post("/api/v1/admin/breakers/payments/reset", headers=admin)
    assert reset.status_code == 200
    assert (reset.json()["state"], reset.json()["opened_at"]) == ("closed", None)
    assert (await client.post("/api/v1/admin/breakers/nope/reset", headers=admin)).status_code == 404


async def test_the_breakers_endpoints_are_for_admins_only(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    user = await sign_up("operator", zip=None)
    assert (await client.get("/api/v1/admin/breakers", headers=user.headers)).status_code == 403
    assert (await client.post("/api/v1/admin/breakers/sms/reset", headers=user.headers)).status_code == 403
    assert (await client.get("/api/v1/admin/breakers")).status_code == 401
