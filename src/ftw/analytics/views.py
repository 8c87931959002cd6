"""Job page views: counted in memory, written for every job at once every few seconds.

A view used to be a write transaction inside the page's GET (BEGIN, an upsert, COMMIT on
the primary, for a read). Now the page only adds one to a counter in the process, and
``running`` writes all the counts in one statement every ``flush_s``, once more on
shutdown. The counts are additive, so every instance flushes its own; a process that dies
loses at most ``flush_s`` of views, a figure nobody is paid by.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from typing import cast

import structlog
from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import BigInteger, Integer

from ftw.analytics.models import JobStats
from ftw.core.db import Database

log = structlog.get_logger(__name__)

_TABLE = cast(Table, JobStats.__table__)
_NEW = insert(_TABLE).from_select(
    ["job_id", "views"],
    select(
        func.unnest(bindparam("job_ids", type_=ARRAY(BigInteger))),
        func.unnest(bindparam("views", type_=ARRAY(Integer))),
    ),
)
_ADD = _NEW.on_conflict_do_update(
    index_elements=[_TABLE.c.job_id], set_={"views": _TABLE.c.views + _NEW.excluded.views}
)


class Views:
    """The views of each job page since the last flush."""

    def __init__(self) -> None:
        self._pending: Counter[int] = Counter()

    def seen(self, job_id: int) -> None:
        self._pending[job_id] += 1

    async def flush(self, db: Database) -> None:
        """Add the pending counts to ``job_stats``; on failure they wait for the next flush."""
        pending, self._pending = self._pending, Counter()
        if not pending:
            return
        job_ids = sorted(pending)  # one lock order for every instance's upsert
        try:
            async with db.session() as session:
                await session.execute(_ADD, {"job_ids": job_ids, "views": [pending[j] for j in job_ids]})
        except (SQLAlchemyError, OSError) as exc:
            self._pending.update(pending)
            log.warning("job_views_write_failed", error=type(exc).__name__, jobs=len(pending))

    @contextlib.asynccontextmanager
    async def running(self, db: Database, flush_s: float = 5.0) -> AsyncIterator[None]:
        """Flush every ``flush_s`` while the block runs, and once more when it ends."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(flush_s)
                await self.flush(db)

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self.flush(db)
