"""Background work of the CRM: follow-up sequences and idle customers."""

from __future__ import annotations

from typing import Any

import structlog

from ftw.crm import service
from ftw.integrations.context import Handler, TaskContext

log = structlog.get_logger(__name__)

SEND_FOLLOW_UPS = "crm.send_due_follow_ups"
MARK_INACTIVE = "crm.mark_inactive"


async def send_due_follow_ups(context: TaskContext, payload: dict[str, Any]) -> None:
    """Send every due follow-up, one committed batch at a time."""
    total = 0
    while True:
        async with context.db.session() as session:
            sent = await service.send_due_follow_ups(session=session)
        total += sent
        if sent < service.FOLLOW_UP_BATCH:
            break
    log.info("follow_ups_sent", count=total)


async def mark_inactive(context: TaskContext, payload: dict[str, Any]) -> None:
    async with context.db.session() as session:
        count = await service.mark_inactive(session=session)
    log.info("customers_inactive", count=count)


TASKS: dict[str, Handler] = {SEND_FOLLOW_UPS: send_due_follow_ups, MARK_INACTIVE: mark_inactive}
SCHEDULES: list[tuple[str, str]] = [
    ("*/10 * * * *", SEND_FOLLOW_UPS),  # every 10 minutes
    ("17 3 * * *", MARK_INACTIVE),  # daily, 03:17 UTC
]
