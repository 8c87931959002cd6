"""The app's route table: ordered for the launch mix, and no route hidden behind another."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute

from ftw.app import ROUTERS

PARAMETER = re.compile(r"\{[^}]+\}")


def test_every_route_is_the_first_to_match_its_own_path() -> None:
    """Routers are included busiest first (app.py): a request must still reach its own route,
    never a parametric one of an earlier router that happens to fit (`/jobs/{id}` taking
    `/jobs/mine`). Parameters are sampled as `1`, which no static segment is."""
    routes = [route for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)]
    hidden = []
    for route in routes:
        path = PARAMETER.sub("1", route.path)
        for method in route.methods or ():
            first = next(r for r in routes if method in (r.methods or ()) and r.path_regex.match(path))
            if first is not route:
                hidden.append(f"{method} {route.path} reaches {first.path}")
    assert hidden == []
