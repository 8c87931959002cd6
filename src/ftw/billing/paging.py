"""Newest-first keyset pages on (created_at, id), shared by bids, payouts and invoices."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import Select, bindparam, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from ftw.core import pagination
from ftw.core.errors import Invalid
from ftw.core.query import Query
from ftw.core.validation import MAX_ID


class NewestFirst:
    """The pages of one statement newest first, compiled once (core/query): the first page,
    and the pages after a cursor."""

    def __init__(
        self,
        query: Select[Any],
        *,
        created: InstrumentedAttribute[datetime],
        ident: InstrumentedAttribute[int],
    ) -> None:
        order = (created.desc(), ident.desc())
        after = tuple_(created, ident) < tuple_(bindparam("after_created"), bindparam("after_id"))
        self._first = Query(query.order_by(*order).limit(bindparam("limit")))
        self._after = Query(query.where(after).order_by(*order).limit(bindparam("limit")))
        self._created, self._ident = created.key, ident.key

    async def page(
        self, session: AsyncSession, *, cursor: str | None, limit: int, **values: Any
    ) -> tuple[list[asyncpg.Record], str | None]:
        """Up to ``limit`` rows after ``cursor``, and the cursor of the next page."""
        query = self._first
        if cursor:
            created, ident = pagination.decode_as(cursor, datetime, int)
            if not 0 < ident <= MAX_ID or created.tzinfo is None:
                raise Invalid("Malformed cursor", field="cursor")
            values |= {"after_created": created, "after_id": ident}
            query = self._after
        rows = await query.rows(session, limit=limit + 1, **values)
        items = rows[:limit]
        if len(rows) <= limit:
            return items, None
        last = items[-1]
        return items, pagination.encode(last[self._created].isoformat(), last[self._ident])
