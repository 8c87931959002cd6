"""Schema-driven fuzz of the whole API with schemathesis, on the test database.

Every operation of the app's OpenAPI document gets valid (positive) and invalid (negative)
requests drawn from its schema, sent as each role in turn (anonymous, homeowner,
contractor, operator, admin) through the ASGI app in the test's transaction. No response
may be a 5xx, and documented responses must match their schema. Integer path parameters
often name real rows (a job, a bid) so handlers get past their 404s.

FTW_FUZZ_EXAMPLES sets the examples per operation and mode (CI: 3);
``benchmarks/fuzz.py --examples N`` runs it big.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.models import User
from ftw.app import create_app
from ftw.config import Settings
from ftw.core.db import Database
from tests.conftest import SignUp
from tests.support.market import headers_as, post_job

EXAMPLES = int(os.environ.get("FTW_FUZZ_EXAMPLES", "3"))
BASE_URL = "http://testserver"
ROLES = ("anonymous", "homeowner", "contractor", "operator", "admin")
CHECKS = [not_a_server_error, response_schema_conformance]


@dataclass
class Tally:
    operations: int = 0
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


def _drawn(operation: Any, mode: GenerationMode, examples: int) -> list[schemathesis.Case[Any]]:
    """Up to ``examples`` cases of ``operation`` (hypothesis only generates; nothing is sent)."""
    cases: list[schemathesis.Case[Any]] = []

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def draw(case: schemathesis.Case[Any]) -> None:
        cases.append(case)

    with contextlib.suppress(hypothesis.errors.Unsatisfiable):  # e.g. no invalid request exists
        draw()
    return cases


async def _send(
    client: httpx.AsyncClient, case: schemathesis.Case[Any], headers: dict[str, str]
) -> httpx.Response:
    """Send ``case`` as schemathesis would, through the in-process ASGI client."""
    prepared = requests.Request(**case.as_transport_kwargs(base_url=BASE_URL, headers=headers)).prepare()
    body = prepared.body
    assert body is None or isinstance(body, bytes | str)
    sent = {
        name: value.decode() if isinstance(value, bytes) else value
        for name, value in prepared.headers.items()
    }
    return await client.request(str(prepared.method), str(prepared.url), headers=sent, content=body)


async def fuzz(client: httpx.AsyncClient, headers: dict[str, dict[str, str]], known: dict[str, int]) -> Tally:
    """Fuzz every operation; ``known`` maps path parameter names to ids of real rows."""
    schema = schemathesis.openapi.from_dict((await client.get("/openapi.json")).json())
    tally = Tally()
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            tally.failures.append(f"an operation of the schema is invalid: {result.err()}")
            continue
        operation = result.ok()
        if "text/event-stream" in operation.definition.raw["responses"].get("200", {}).get("content", {}):
            continue  # a stream answers until its token expires: tests/messaging/test_stream.py
        tally.operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for index, case in enumerate(_drawn(operation, mode, EXAMPLES)):
                if index % 2 == 0 and case.path_parameters:
                    for name in case.path_parameters.keys() & known.keys():
                        case.path_parameters[name] = known[name]
                role = ROLES[(index + tally.cases) % len(ROLES)]
                response = await _send(client, case, headers[role])
                tally.cases += 1
                tally.statuses[response.status_code] += 1
                try:
                    case.validate_response(response, checks=CHECKS)
                except FailureGroup as failure:
                    tally.failures.append(
                        f"{operation.label} as {role} ({mode.value}): {response.status_code} "
                        f"{str(failure).splitlines()[0]}\n  {case.as_curl_command()}"
                    )
    return tally


async def test_no_request_makes_the_api_fail(
    settings: Settings, database: Database, sign_up: SignUp, session: AsyncSession
) -> None:
    # The cache's background refresh would share the test's one connection with requests.
    app = create_app(settings.model_copy(update={"cache_enabled": False}), database=database)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a crash is a 500 to see
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        homeowner = await sign_up("homeowner")
        contractor = await sign_up("contractor")
        operator = await sign_up("operator")
        admin = await sign_up("homeowner")
        await session.execute(update(User).where(User.id == admin.id).values(role="admin"))
        await session.flush()
        job = await post_job(client, homeowner)
        bid = await client.post(
            f"/api/v1/jobs/{job['id']}/bids",
            json={"amount_cents": 15_000, "message": "I can fix this tomorrow morning."},
            headers=contractor.headers,
        )
        assert bid.status_code == 201, bid.text
        headers = {
            "anonymous": {},
            "homeowner": homeowner.headers,
            "contractor": contractor.headers,
            "operator": operator.headers,
            "admin": headers_as(settings, admin.id, "admin"),
        }
        known = {"job_id": job["id"], "bid_id": bid.json()["id"], "fips": "36061", "user_id": contractor.id}
        tally = await fuzz(client, headers, known)
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(tally.statuses.items()))
    print(f"\nfuzz: {tally.operations} operations, {tally.cases} cases ({statuses})")
    for failure in tally.failures:
        print(failure)
    assert tally.operations > 0
    assert tally.failures == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/api/v1/me", {"full_name": None}),
        ("PATCH", "/api/v1/me", {"is_available": None}),
        ("GET", f"/api/v1/jobs/{2**64}/messages", None),
        ("POST", f"/api/v1/notifications/{2**64}/read", None),
        ("GET", f"/api/v1/contractors/{2**64}", None),
        ("GET", f"/api/v1/crm/customers/{2**64}", None),
        ("GET", f"/api/v1/analytics/jobs/{2**64}", None),
        ("POST", "/api/v1/crm/customers", {"homeowner_id": 2**64}),
        ("GET", "/api/v1/jobs?q=leak%00ing", None),
    ],
)
async def test_what_the_fuzz_found_is_a_422(
    client: httpx.AsyncClient, sign_up: SignUp, method: str, path: str, body: dict[str, Any] | None
) -> None:
    """Nulls for required profile fields, ids beyond BIGINT and NUL in text once were 500s."""
    contractor = await sign_up("contractor")
    response = await client.request(method, path, json=body, headers=contractor.headers)
    assert response.status_code == 422, response.text
