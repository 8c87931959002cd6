"""The app's route table: ordered for the launch mix, and no route hidden behind another."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from ftw.app import HOT_READS, ROUTERS, route_table
from ftw.web import PAGES

PARAMETER = re.compile(r"\{[^}]+\}")


def test_every_route_is_the_first_to_match_its_own_path() -> None:
    """Routes are tried busiest first (app.py): a request must still reach its own route,
    never a parametric one tried earlier that happens to fit (`/jobs/{id}` taking
    `/jobs/mine`). Parameters are sampled as `1`, which no static segment is."""
    routes = [route for route in route_table() if isinstance(route, APIRoute)]
    hidden = []
    for route in routes:
        path = PARAMETER.sub("1", route.path)
        for method in route.methods or ():
            first = next(r for r in routes if method in (r.methods or ()) and r.path_regex.match(path))
            if first is not route:
                hidden.append(f"{method} {route.path} reaches {first.path}")
    assert hidden == []


def test_the_launch_mix_reads_come_first_after_the_probes() -> None:
    routes = [route for route in route_table() if isinstance(route, APIRoute)]
    reads = [route.path for route in routes[2 : 2 + len(HOT_READS)] if "GET" in (route.methods or ())]
    assert [route.path for route in routes[:2]] == ["/healthz", "/readyz"]
    assert reads == list(HOT_READS)  # each names a GET route, in this order
    assert len(routes) == sum(len(router.routes) for router in ROUTERS)


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _is_async(call: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)


def test_no_route_runs_a_dependency_in_the_thread_pool() -> None:
    """FastAPI runs a plain ``def`` dependency in its thread pool: a thread hand-off per
    request and dependency (the pager's cost /threads 8 % of its CPU until it was async)."""
    routers = [*ROUTERS, *(module.router for module in PAGES)]
    routes = [route for router in routers for route in router.routes if isinstance(route, APIRoute)]
    blocking = {
        f"{route.path}: {call.__qualname__}"
        for route in routes
        for call in _calls(route.dependant)
        if not _is_async(call if inspect.isroutine(call) else type(call).__call__)
    }
    assert sorted(blocking) == []
