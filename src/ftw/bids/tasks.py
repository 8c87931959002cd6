"""Background work of bids; every handler is safe to run twice.

billing.retry_payment   one more attempt of an award charge the provider could not take
                        (billing names and queues it; the award is the bids flow's)
"""

from __future__ import annotations

from typing import Any

from ftw.bids import flows
from ftw.billing import charges
from ftw.integrations.context import Handler, TaskContext


async def retry_payment(ctx: TaskContext, payload: dict[str, Any]) -> None:
    async with ctx.db.session() as session:
        await flows.retry(
            session=session,
            settings=ctx.settings,
            payments=ctx.integrations.payments,
            payment_id=int(payload["payment_id"]),
            attempt=int(payload["attempt"]),
        )


TASKS: dict[str, Handler] = {charges.RETRY_TASK: retry_payment}
