"""Newest-first keyset pages on (created_at, id), shared by bids, payouts and invoices."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from ftw.core import pagination
from ftw.core.errors import Invalid
from ftw.core.validation import MAX_ID

M = TypeVar("M")


async def newest_first(
    session: AsyncSession,
    query: Select[M],
    *,
    created: InstrumentedAttribute[datetime],
    ident: InstrumentedAttribute[int],
    cursor: str | None,
    limit: int,
) -> tuple[list[M], str | None]:
    if cursor:
        after = tuple(pagination.decode_as(cursor, datetime, int))
        if not 0 < after[1] <= MAX_ID or after[0].tzinfo is None:
            raise Invalid("Malformed cursor", field="cursor")
        query = query.where(tuple_(created, ident) < after)
    rows = list(await session.scalars(query.order_by(created.desc(), ident.desc()).limit(limit + 1)))
    items = rows[:limit]
    if len(rows) <= limit:
        return items, None
    last = items[-1]
    return items, pagination.encode(getattr(last, created.key).isoformat(), getattr(last, ident.key))
