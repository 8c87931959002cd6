"""The keyset pager on a real PostgreSQL: every row once, in order, whatever the ties; forged
cursors refused; the page sizes of PageDep and page_params enforced through the API."""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    Table,
    Text,
    bindparam,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.config import Settings
from ftw.core.errors import Invalid
from ftw.core.pagination import Keyset, encode
from ftw.messaging.models import Notification
from tests.conftest import SignUp

ROWS = Table(
    "pager_rows",
    MetaData(),
    Column("id", BigInteger, primary_key=True),
    Column("score", Integer),
    Column("at", DateTime(timezone=True)),
    Column("name", Text),
    Column("weight", Float),
)
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def rows(session: AsyncSession) -> list[dict[str, Any]]:
    """40 rows with few distinct sort values, so most of them tie on all but the id."""
    await session.execute(
        text(
            "CREATE TEMP TABLE pager_rows (id bigint PRIMARY KEY, score int, at timestamptz, name text,"
            " weight float8) ON COMMIT DROP"
        )
    )
    made = [
        {
            "id": n,
            "score": n % 3,
            "at": START + timedelta(minutes=n % 4),
            "name": "abcde"[n % 5],
            "weight": (n % 2) / 3,
        }
        for n in range(7, 47)  # ids from 7: nothing relies on them starting at 1
    ]
    await session.execute(insert(ROWS), made)
    return made


Order = tuple[tuple[Any, ...], Callable[[dict[str, Any]], Any]]
ORDERS: dict[str, Order] = {
    "newest first": ((ROWS.c.at.desc(), ROWS.c.id.desc()), lambda r: (-r["at"].timestamp(), -r["id"])),
    "mixed directions": (
        (ROWS.c.score, ROWS.c.at.desc(), ROWS.c.id.desc()),
        lambda r: (r["score"], -r["at"].timestamp(), -r["id"]),
    ),
    "text then id": ((ROWS.c.name, ROWS.c.id), lambda r: (r["name"], r["id"])),
    "float descending, id ascending": ((ROWS.c.weight.desc(), ROWS.c.id), lambda r: (-r["weight"], r["id"])),
}


@pytest.mark.parametrize("limit", [1, 3, 7, 40, 100])
@pytest.mark.parametrize("order", list(ORDERS))
async def test_the_pages_list_every_row_once_in_order(
    session: AsyncSession, rows: list[dict[str, Any]], order: str, limit: int
) -> None:
    terms, key = ORDERS[order]
    pager = Keyset(select(ROWS), *terms)
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        page, cursor = await pager.page(session, cursor, limit)
        pages += 1
        assert 0 < len(page) <= limit
        assert cursor is None or len(page) == limit, "a short page is the last one"
        seen += [row["id"] for row in page]
        if cursor is None:
            break
    assert seen == [r["id"] for r in sorted(rows, key=key)]
    assert pages == max(1, math.ceil(len(rows) / limit))


async def test_a_page_binds_the_statements_own_values(
    session: AsyncSession, rows: list[dict[str, Any]]
) -> None:
    pager = Keyset(select(ROWS).where(ROWS.c.score == bindparam("score")), ROWS.c.id.desc())
    first, cursor = await pager.page(session, None, 5, score=2)
    rest, end = await pager.page(session, cursor, 100, score=2)
    assert end is None
    assert [r["id"] for r in first + rest] == sorted((r["id"] for r in rows if r["score"] == 2), reverse=True)


async def test_an_empty_list_is_one_empty_page(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    pager = Keyset(select(ROWS).where(ROWS.c.score > 5), ROWS.c.id)
    assert await pager.page(session, None, 10) == ([], None)


FORGED = {
    "not base64 JSON": "garbage!",
    "not a list": base64.urlsafe_b64encode(b'{"id": 9}').decode(),
    "too few values": encode(3, 9),
    "too many values": encode(1, START.isoformat(), 9, 9),
    "text for an int": encode("1", START.isoformat(), 9),
    "a bool for an int": encode(True, START.isoformat(), 9),
    "a float for an int": encode(1.5, START.isoformat(), 9),
    "past int4": encode(2**31, START.isoformat(), 9),
    "past bigint": encode(1, START.isoformat(), 2**63),
    "not a date": encode(1, "yesterday", 9),
    "a date without a zone": encode(1, "2026-01-01T00:00:00", 9),
    "a number for a date": encode(1, 1_700_000_000, 9),
}


@pytest.mark.parametrize("forged", list(FORGED))
async def test_a_forged_or_foreign_cursor_is_a_422_on_cursor(
    session: AsyncSession, rows: list[dict[str, Any]], forged: str
) -> None:
    pager = Keyset(select(ROWS), ROWS.c.score, ROWS.c.at.desc(), ROWS.c.id.desc())
    with pytest.raises(Invalid) as refused:
        await pager.page(session, FORGED[forged], 5)
    assert (refused.value.status, refused.value.field) == (422, "cursor")


@pytest.mark.parametrize(
    ("terms", "cursor"),
    [
        ((ROWS.c.name, ROWS.c.id), encode("a\x00", 9)),
        ((ROWS.c.name, ROWS.c.id), encode(5, 9)),
        ((ROWS.c.weight, ROWS.c.id), encode("NaN", 9)),
        ((ROWS.c.weight, ROWS.c.id), encode(math.nan, 9)),
        ((ROWS.c.weight, ROWS.c.id), encode(math.inf, 9)),
    ],
)
async def test_text_and_float_keys_refuse_what_postgresql_would_choke_on(
    session: AsyncSession, rows: list[dict[str, Any]], terms: tuple[Any, ...], cursor: str
) -> None:
    with pytest.raises(Invalid):
        await Keyset(select(ROWS), *terms).page(session, cursor, 5)


def test_a_key_without_a_cursor_form_is_refused_when_the_pager_is_built() -> None:
    with pytest.raises(TypeError):
        Keyset(select(ROWS), func.whatever().label("untyped"), ROWS.c.id)
    with pytest.raises(TypeError):
        Keyset(select(ROWS), Column("blob", JSON), ROWS.c.id)
    with pytest.raises(TypeError):
        Keyset(select(ROWS), Column("naive", DateTime()), ROWS.c.id)


async def _notifications(session: AsyncSession, user_id: int, count: int) -> None:
    await session.execute(
        insert(Notification), [{"user_id": user_id, "kind": "bid.new", "payload": {}} for _ in range(count)]
    )


async def test_page_dep_defaults_and_clamps_to_the_jobs_page_sizes(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, settings: Settings
) -> None:
    user = await sign_up()
    await _notifications(session, user.id, settings.jobs.page_size_max + 5)
    default = await client.get("/api/v1/notifications", headers=user.headers)
    assert len(default.json()["items"]) == settings.jobs.page_size_default
    clamped = await client.get("/api/v1/notifications", params={"limit": 10_000}, headers=user.headers)
    assert clamped.status_code == 200
    assert len(clamped.json()["items"]) == settings.jobs.page_size_max
    rest = await client.get(
        "/api/v1/notifications", params={"cursor": clamped.json()["next_cursor"]}, headers=user.headers
    )
    assert len(rest.json()["items"]) == 5
    assert rest.json()["next_cursor"] is None
    for bad in ({"limit": 0}, {"cursor": "x" * 201}, {"cursor": "garbage!"}):
        refused = await client.get("/api/v1/notifications", params=bad, headers=user.headers)
        assert refused.status_code == 422, bad


async def test_page_params_refuse_a_limit_past_the_routes_maximum(client: httpx.AsyncClient) -> None:
    default = await client.get("/api/v1/territories")
    assert len(default.json()["items"]) == 50
    assert len((await client.get("/api/v1/territories", params={"limit": 100})).json()["items"]) == 100
    for limit in (0, 101):
        assert (await client.get("/api/v1/territories", params={"limit": limit})).status_code == 422
