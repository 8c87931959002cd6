"""In-transaction domain events: a domain says what happened, and the domains that care act
on it in the same transaction, so the one saying it imports none of them.

An event is a frozen dataclass of its publisher (``bids.events.BidPlaced``). Handlers are
subscribed once per process at start-up (``ftw.hooks.install``), never by an import. Every
event has a subscriber, so publishing one that has none means the process skipped that
start-up step: it is refused loudly instead of silently skipping the work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

E = TypeVar("E")

_handlers: dict[type[Any], list[Callable[[AsyncSession, Any], Awaitable[None]]]] = {}


def subscribe(kind: type[E], handler: Callable[[AsyncSession, E], Awaitable[None]]) -> None:
    """Run ``handler`` in the publishing transaction whenever an event of ``kind`` happens."""
    handlers = _handlers.setdefault(kind, [])
    if handler not in handlers:
        handlers.append(handler)


async def publish(session: AsyncSession, event: object) -> None:
    """Run every handler of ``event`` in ``session``'s transaction, in subscription order."""
    handlers = _handlers.get(type(event))
    if not handlers:
        raise RuntimeError(f"Nothing handles {type(event).__name__}: call ftw.hooks.install() at start-up")
    for handler in handlers:
        await handler(session, event)
