"""POST /api/v1/scope with the Anthropic adapter against a fake Anthropic API: a bounded
refinement when the model answers well, the offline estimate (degraded) when it does not."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.app import create_app
from ftw.config import Settings
from ftw.core import switches
from ftw.core.breakers import BreakerBoard
from ftw.core.db import Database
from ftw.core.switches import Name
from ftw.integrations import build
from tests.conftest import SignUp
from tests.integrations.conftest import CUT_OFF_S, QUICK, with_quick_breakers
from tests.integrations.fake_vendor import FakeVendor

JOB = {
    "title": "Replace kitchen faucet",
    "description": "Swap the old kitchen faucet for a new one we already bought.",
    "trade": "plumbing",
    "state": "NY",
}


class Claude:
    """The fake's /v1/messages: answers with ``text`` as the assistant's reply."""

    def __init__(self) -> None:
        self.text = ""

    def __call__(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "claude"),
            "content": [{"type": "text", "text": self.text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 10},
        }


@pytest.fixture
def claude() -> Claude:
    return Claude()


@pytest.fixture
async def llm_server(claude: Claude) -> AsyncIterator[FakeVendor]:
    server = await FakeVendor(claude).start()
    yield server
    await server.stop()


@pytest.fixture
async def scoping(
    settings: Settings, database: Database, llm_server: FakeVendor
) -> AsyncIterator[tuple[httpx.AsyncClient, BreakerBoard]]:
    llm = settings.llm.model_copy(
        update={
            "adapter": "anthropic",
            "anthropic_api_key": SecretStr("sk-ant-fake"),
            "base_url": llm_server.url,
        }
    )
    integrations = build(with_quick_breakers(settings).model_copy(update={"llm": llm}))
    app = create_app(settings, database=database, integrations=integrations)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c, integrations.breakers


async def _offline(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    """What the estimator says without a model (the default app)."""
    response = await client.post("/api/v1/scope", json=JOB, headers=headers)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    assert (body["source"], body["degraded"]) == ("offline", False)
    return body


async def _scope(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.post("/api/v1/scope", json=JOB, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_sane_answer_refines_the_estimate(
    client: httpx.AsyncClient,
    sign_up: SignUp,
    scoping: tuple[httpx.AsyncClient, BreakerBoard],
    claude: Claude,
    llm_server: FakeVendor,
) -> None:
    user = await sign_up()
    offline = await _offline(client, user.headers)
    low, high = offline["price_low_cents"], offline["price_high_cents"]
    claude.text = json.dumps(
        {
            "price_low_cents": low + 1_000,
            "price_high_cents": high + 2_040,
            "confidence": 0.8,
            "note": "brand faucet",
        }
    )
    app_client, _ = scoping
    refined = await _scope(app_client, user.headers)
    assert (refined["source"], refined["degraded"]) == ("llm", False)
    assert (refined["price_low_cents"], refined["price_high_cents"]) == (low + 1_000, high + 2_000)
    assert refined["confidence"] == 0.8
    assert refined["rationale"][-1] == "refined by anthropic: brand faucet"
    [seen] = llm_server.requests
    assert seen.path == "/v1/messages"
    assert json.loads(seen.body["messages"][0]["content"])["offline_low_cents"] == low


@pytest.mark.parametrize(
    "answer",
    [
        "Sure! Around $300.",  # not JSON
        '{"price_low_cents": 100, "price_high_cents": 50, "confidence": 0.5, "note": "x"}',  # inverted
        '{"price_low_cents": 20000, "price_high_cents": 99999999, "confidence": 0.5, "note": "x"}',  # wild
        '{"price_low_cents": "200", "price_high_cents": 500, "confidence": 0.5, "note": "x"}',  # not strict
    ],
)
async def test_an_unusable_answer_serves_the_offline_estimate_degraded(
    client: httpx.AsyncClient,
    sign_up: SignUp,
    scoping: tuple[httpx.AsyncClient, BreakerBoard],
    claude: Claude,
    answer: str,
) -> None:
    user = await sign_up()
    offline = await _offline(client, user.headers)
    claude.text = answer
    served = await _scope(scoping[0], user.headers)
    assert (served["source"], served["degraded"]) == ("offline", True)
    assert served["price_low_cents"] == offline["price_low_cents"]
    assert served["rationale"][-1].startswith("offline estimate: language model")
    assert scoping[1]["llm"].state == "closed"  # the vendor answered: not its outage


async def test_a_failing_llm_serves_offline_degraded_and_its_breaker_opens(
    sign_up: SignUp, scoping: tuple[httpx.AsyncClient, BreakerBoard], llm_server: FakeVendor
) -> None:
    client, breakers = scoping
    user = await sign_up()
    llm_server.mode = "fail"
    llm_server.fail_status = 500
    for _ in range(QUICK.failures):
        served = await _scope(client, user.headers)
        assert (served["source"], served["degraded"]) == ("offline", True)
    assert breakers["llm"].state == "open"

    started = time.perf_counter()
    served = await _scope(client, user.headers)
    assert served["degraded"] is True
    assert time.perf_counter() - started < 0.2  # failed fast
    assert len(llm_server.requests) == QUICK.failures  # the open breaker kept it from the vendor


async def test_a_hanging_llm_is_cut_off_at_the_call_timeout(
    sign_up: SignUp, scoping: tuple[httpx.AsyncClient, BreakerBoard], llm_server: FakeVendor
) -> None:
    client, breakers = scoping
    user = await sign_up()
    llm_server.mode = "hang"
    started = time.perf_counter()
    served = await _scope(client, user.headers)
    assert time.perf_counter() - started < CUT_OFF_S
    assert (served["source"], served["degraded"]) == ("offline", True)
    assert "TimeoutError" in (breakers["llm"].last_failure or "")


async def test_switched_off_refinement_serves_the_offline_estimate_without_calling_the_model(
    sign_up: SignUp,
    scoping: tuple[httpx.AsyncClient, BreakerBoard],
    session: AsyncSession,
    llm_server: FakeVendor,
) -> None:
    user = await sign_up()
    await switches.change(
        session, name=Name.LLM_REFINEMENT, on=False, message=None, actor_id=None, via="test"
    )
    app_client, _ = scoping
    estimate = await _scope(app_client, user.headers)
    assert (estimate["source"], estimate["degraded"]) == ("offline", False)
    assert llm_server.requests == []
