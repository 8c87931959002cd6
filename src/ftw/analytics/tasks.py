"""Background work of analytics: the daily figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from ftw.analytics import service
from ftw.integrations.context import Handler, TaskContext

log = structlog.get_logger(__name__)

ROLL_UP = "analytics.roll_up_daily"


async def roll_up_daily(context: TaskContext, payload: dict[str, Any]) -> None:
    """Recompute yesterday's (late events, the last run before midnight) and today's figures."""
    today = datetime.now(UTC).date()
    async with context.db.session() as session:
        rows = await service.roll_up(session=session, first=today - timedelta(days=1), last=today)
    log.info("daily_figures_rolled_up", rows=rows)


TASKS: dict[str, Handler] = {ROLL_UP: roll_up_daily}
SCHEDULES: list[tuple[str, str]] = [("*/5 * * * *", ROLL_UP)]  # every 5 minutes
