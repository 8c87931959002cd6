"""Keyset pages: one pager for every list, its opaque cursors, and the page parameters.

A cursor is the sort key of the last row seen, never an offset: a page costs the same however
deep it is, and rows written meanwhile neither repeat nor vanish. The last sort column must be
unique (an id), so ties on the others are broken and every row is listed exactly once.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Query, Request
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Float,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    or_,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from ftw.config import JobRules
from ftw.core import query as compiled
from ftw.core.errors import Invalid

CURSOR_MAX_CHARS = 200
Order = ColumnElement[Any] | QueryableAttribute[Any]  # a column or label, maybe .desc()


def encode(*values: Any) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, arity: int) -> list[Any]:
    """The values ``encode`` packed; a tampered or foreign cursor is a 422 on ``cursor``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid("Malformed cursor", field="cursor") from exc
    if not isinstance(values, list) or len(values) != arity:
        raise Invalid("Malformed cursor", field="cursor")
    return values


@dataclass(frozen=True, slots=True)
class _Key:
    """One sort column: how it is read from a row, compared, and carried in a cursor."""

    name: str
    column: ColumnElement[Any]
    descending: bool
    kind: type
    bound: int = 0  # the largest integer the column holds; 0 for other kinds

    @classmethod
    def of(cls, order: Order) -> _Key:
        """The key of an ORDER BY term (``col``, ``col.desc()``, ``col.desc().nulls_last()``)."""
        column = order.__clause_element__() if isinstance(order, QueryableAttribute) else order
        descending = False
        while isinstance(column, UnaryExpression) and column.modifier is not None:
            descending = descending or column.modifier is operators.desc_op
            column = column.element
        if not column.key:
            raise TypeError(f"a keyset column needs its name in the row: label {column}")
        sql_type = column.type
        if isinstance(sql_type, DateTime):
            if not sql_type.timezone:
                raise TypeError(f"{column.key}: keyset datetimes are timestamptz")
            return cls(column.key, column, descending, datetime)
        if isinstance(sql_type, Integer):
            return cls(
                column.key,
                column,
                descending,
                int,
                2**63 - 1 if isinstance(sql_type, BigInteger) else 2**31 - 1,
            )
        if isinstance(sql_type, Float | String):
            return cls(column.key, column, descending, sql_type.python_type)
        raise TypeError(f"{column.key}: no cursor form for {sql_type!r}")

    def dump(self, value: Any) -> Any:
        return value.isoformat() if self.kind is datetime else value

    def load(self, value: Any) -> Any:
        """The cursor's value as the column's kind; anything else is a forged cursor."""
        if self.kind is datetime and isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                moment = None
            if moment is not None and moment.tzinfo is not None:
                return moment
        elif self.kind is int and type(value) is int and -self.bound - 1 <= value <= self.bound:
            return value
        elif self.kind is float and type(value) in (int, float) and math.isfinite(value):
            return float(value)
        elif self.kind is str and isinstance(value, str) and "\x00" not in value:
            return value
        raise Invalid("Malformed cursor", field="cursor")


def _after(keys: tuple[_Key, ...]) -> ColumnElement[bool]:
    """Rows past the cursor's key, whose values bind as ``after_0``, ``after_1``, ..."""
    marks = [bindparam(f"after_{i}", type_=key.column.type) for i, key in enumerate(keys)]
    if len({key.descending for key in keys}) == 1:  # a row comparison, which an index serves
        row, mark = tuple_(*(key.column for key in keys)), tuple_(*marks)
        return row < mark if keys[0].descending else row > mark
    past = []
    for i, key in enumerate(keys):
        ties = [k.column == m for k, m in zip(keys[:i], marks[:i], strict=True)]
        past.append(and_(*ties, key.column < marks[i] if key.descending else key.column > marks[i]))
    return or_(*past)


class Keyset:
    """The pages of one statement in the order of ``order`` (its last term unique), both
    statements compiled once (core/query): the first page, and the pages after a cursor."""

    def __init__(self, statement: Select[Any], *order: Order) -> None:
        self._keys = tuple(_Key.of(term) for term in order)
        self._first = compiled.Query(statement.order_by(*order).limit(bindparam("limit")))
        self._next = compiled.Query(
            statement.where(_after(self._keys)).order_by(*order).limit(bindparam("limit"))
        )

    async def page(
        self, session: AsyncSession, cursor: str | None, limit: int, **values: Any
    ) -> tuple[list[asyncpg.Record], str | None]:
        """Up to ``limit`` rows after ``cursor``, and the cursor of the next page (None at
        the end); ``values`` bind the statement's own parameters."""
        query = self._first
        if cursor:
            last = decode(cursor, len(self._keys))
            values |= {
                f"after_{i}": key.load(v) for i, (key, v) in enumerate(zip(self._keys, last, strict=True))
            }
            query = self._next
        rows = await query.rows(session, **values, limit=limit + 1)
        if len(rows) <= limit:
            return rows, None
        end = rows[limit - 1]
        return rows[:limit], encode(*(key.dump(end[key.name]) for key in self._keys))


@dataclass(frozen=True, slots=True)
class PageParams:
    """A page request: where to continue, and how many rows."""

    cursor: str | None
    limit: int


Cursor = Annotated[
    str | None,
    Query(
        max_length=CURSOR_MAX_CHARS, description="The previous page's next_cursor; omit for the first page"
    ),
]


_Limit = Annotated[
    int | None,
    Query(ge=1, description="Rows per page: 20 unless given, a larger limit than 100 cut to 100 (settings)"),
]


async def _default_page(request: Request, cursor: Cursor = None, limit: _Limit = None) -> PageParams:
    # The settings from the app, not SettingsDep: a dependency of its own is solved on every
    # request: 81 Python calls on each list (`GET /threads` 1,556 -> 1,475).
    rules: JobRules = request.app.state.settings.jobs
    return PageParams(cursor, min(limit or rules.page_size_default, rules.page_size_max))


def page_params(*, default: int, maximum: int) -> Callable[..., Awaitable[PageParams]]:
    """The dependency of a route with its own page size: a limit past ``maximum`` is a 422.
    (``async``, as every dependency: FastAPI runs a plain ``def`` in its thread pool.)"""

    async def dependency(cursor: Cursor = None, limit: int = default) -> PageParams:
        return PageParams(cursor, limit)

    # Set as an object: a string annotation could not name this call's ``maximum``.
    dependency.__annotations__["limit"] = Annotated[int, Query(ge=1, le=maximum, description="Rows per page")]
    return dependency


PageDep = Annotated[PageParams, Depends(_default_page)]
"""The page of most lists: ``jobs.page_size_default`` rows, past ``page_size_max`` clamped."""
