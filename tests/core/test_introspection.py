"""FastAPI's introspection, answered once per field and dependency: the same answers as
FastAPI's own, and a request's parameters and dependencies resolved as before."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.dependencies import utils
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from ftw.config import Settings
from ftw.core import introspection
from ftw.core.db import Database


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def test_every_routes_parameters_and_dependencies_get_fastapis_own_answers(
    settings: Settings, database: Database
) -> None:
    from ftw.app import create_app

    app = create_app(settings, database=database)  # installs the memos
    dependants = [
        dependant
        for route in app.routes
        if isinstance(route, APIRoute)
        for dependant in _dependants(route.dependant)
    ]
    fields = [
        field
        for dependant in dependants
        for field in (*dependant.path_params, *dependant.query_params, *dependant.header_params,
                      *dependant.cookie_params)
    ]  # fmt: skip
    assert len(fields) > 80
    memos: dict[str, Any] = {name: getattr(utils, name) for name in introspection.PARAMETER_QUESTIONS}
    for _ in range(2):  # asked first, then answered from memory
        for field in fields:
            for name in ("_get_param_model", "_is_json_field"):
                assert memos[name](field) == memos[name].__wrapped__(field), (name, field.name)
            for convert in (False, True):
                aliases = memos["_get_param_aliases"]
                assert aliases(field, convert_underscores=convert) == aliases.__wrapped__(
                    field, convert_underscores=convert
                )
            annotation = field.field_info.annotation
            is_sequence = memos["field_annotation_is_sequence"]
            assert is_sequence(annotation) == is_sequence.__wrapped__(annotation), field.name
        cache_key: Any = getattr(utils, introspection.CACHE_KEY)
        for dependant in dependants:
            assert cache_key(dependant=dependant, uses_scopes_cache={}) == cache_key.__wrapped__(
                dependant=dependant
            )


def test_installing_twice_wraps_once() -> None:
    introspection.install()
    introspection.install()
    for name in introspection.MEMOIZED:
        helper = getattr(utils, name)
        assert not hasattr(helper.__wrapped__, "__wrapped__"), name


def test_a_memo_asks_once_per_subject_until_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[Any] = []

    def ask(subject: object, *, twice: bool = False) -> Any:
        asked.append(subject)
        return (subject, twice)

    memo = introspection.memoized(ask)
    first, second = object(), object()
    assert memo(first) == memo(first) == (first, False)
    assert memo(first, twice=True) == (first, True)
    assert memo(second) == (second, False)
    assert asked == [first, first, second]

    monkeypatch.setattr(introspection, "MEMO_SIZE", 3)  # full: the next subject is asked every time
    third = object()
    memo(third)
    memo(third)
    assert asked[3:] == [third, third]


async def test_query_parameters_are_read_and_refused_as_before(client: httpx.AsyncClient) -> None:
    for _ in range(3):  # the memos answer from the second request on
        listed = await client.get("/api/v1/jobs", params={"territory": "06037", "limit": 5, "size": "small"})
        assert listed.status_code == 200, listed.text
        refused = await client.get("/api/v1/jobs", params={"territory": "6037"})
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "territory"
