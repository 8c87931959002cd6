"""Every process-wide hook, installed at start-up by ``create_app`` and the worker, never as
the side effect of importing a module: the subscribers of the domain events
(``core.events``) and the SQLAlchemy session listeners of the cache.

A domain announces what happened; the one that cares sits above it and is wired to it here,
so no domain imports the one above (docs/architecture.md).
"""

from __future__ import annotations

from ftw.analytics import service as analytics
from ftw.bids.events import BidPlaced
from ftw.billing.events import InvoicePaid
from ftw.core import cache, events
from ftw.crm import service as crm
from ftw.jobs import service as jobs
from ftw.messaging.events import HomeownerReplied
from ftw.reviews.events import Reviewed


def install() -> None:
    """Install every hook; installing twice changes nothing."""
    cache.listen()
    jobs.listen()
    events.subscribe(BidPlaced, analytics.record_bid)
    events.subscribe(HomeownerReplied, crm.on_reply)
    events.subscribe(Reviewed, crm.on_review)
    events.subscribe(InvoicePaid, crm.on_invoice_paid)
