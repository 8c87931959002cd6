"""The planned handler of plain reads (core/routing.py) answers exactly as FastAPI's would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.routing import APIRoute

from ftw.app import HOT_READS, route_table
from ftw.core.routing import LeanRoute
from tests.conftest import SignUp


def _get_route(path: str) -> APIRoute:
    return next(
        r for r in route_table() if isinstance(r, APIRoute) and r.path == path and "GET" in (r.methods or ())
    )


@contextmanager
def fastapi_handlers() -> Iterator[None]:
    """Every planned route answered by FastAPI's own handler while the block runs."""
    planned = [r for r in route_table() if isinstance(r, LeanRoute) and r.lean]
    lean = [r.app for r in planned]
    for route in planned:
        route.app = route.fastapi_app
    try:
        yield
    finally:
        for route, app in zip(planned, lean, strict=True):
            route.app = app


def test_every_read_of_the_launch_mix_is_planned() -> None:
    assert {path: getattr(_get_route(path), "lean", False) for path in HOT_READS} == dict.fromkeys(
        HOT_READS, True
    )


def test_a_route_the_plan_cannot_hold_keeps_fastapis_handler() -> None:
    router = APIRouter(route_class=LeanRoute)

    async def session() -> object:  # a ``yield`` dependency needs FastAPI's exit stacks
        yield object()

    @router.get("/generator")
    async def generator(value: object = Depends(session)) -> dict[str, bool]:
        return {"ok": True}

    @router.get("/list")
    async def listed(ids: list[int] = Query(default=[])) -> list[int]:
        return ids

    @router.post("/write")
    async def write(body: dict[str, int]) -> dict[str, int]:
        return body

    @router.get("/plain")
    async def plain(request: Request, limit: int = 10) -> dict[str, int]:
        return {"limit": limit}

    lean = {r.path: r.lean for r in router.routes if isinstance(r, LeanRoute)}
    assert lean == {"/generator": False, "/list": False, "/write": False, "/plain": True}


async def test_dependency_overrides_are_honoured() -> None:
    router = APIRouter(route_class=LeanRoute)

    async def who(request: Request) -> str:
        return "real"

    @router.get("/who")
    async def whoami(name: str = Depends(who)) -> dict[str, str]:
        return {"name": name}

    app = FastAPI()
    app.include_router(router)
    app.dependency_overrides[who] = lambda: "override"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/who")).json() == {"name": "override"}


# Requests whose answers users see: refusals of every kind, errors in the path and the query
# (one and several at once), an endpoint's own 422 and 404, and pages with and without filters.
REQUESTS = [
    ("/api/v1/me", None),
    ("/api/v1/me", "homeowner"),
    ("/api/v1/jobs?mine=true", "homeowner"),
    ("/api/v1/jobs?mine=true&status=in_progress&limit=5", "homeowner"),
    ("/api/v1/jobs?territory=36061", "contractor"),
    ("/api/v1/jobs?territory=3606", "contractor"),
    ("/api/v1/jobs?q=a&status=nonsense&limit=0&urgent=maybe", "contractor"),
    ("/api/v1/jobs?q=leaking+faucet&territory=36061", "contractor"),
    ("/api/v1/jobs", "contractor"),
    ("/api/v1/jobs?mine=true", None),
    ("/api/v1/jobs/abc", "contractor"),
    ("/api/v1/jobs/987654321", "contractor"),
    ("/api/v1/jobs/0/bids", "homeowner"),
    ("/api/v1/threads?cursor=not-a-cursor", "homeowner"),
    ("/api/v1/notifications?limit=1000", "homeowner"),
    ("/api/v1/balance", "homeowner"),
    ("/api/v1/balance", "contractor"),
    ("/api/v1/analytics/contractor", "contractor"),
    ("/api/v1/territories/36061", "contractor"),
    ("/api/v1/territories/xyz", "contractor"),
]


@pytest.mark.parametrize(("path", "role"), REQUESTS)
async def test_answers_as_fastapi_would(
    client: httpx.AsyncClient, sign_up: SignUp, path: str, role: str | None
) -> None:
    headers = (await sign_up(role)).headers if role else {}
    planned = await client.get(path, headers=headers)
    with fastapi_handlers():
        reference = await client.get(path, headers=headers)
    assert (planned.status_code, planned.headers.get("content-type"), planned.json()) == (
        reference.status_code,
        reference.headers.get("content-type"),
        reference.json(),
    )
    assert planned.status_code != 500
