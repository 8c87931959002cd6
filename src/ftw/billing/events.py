"""What billing announces to the domains that care (``core.events``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InvoicePaid:
    """The homeowner paid ``amount_cents`` of the contractor's invoice."""

    contractor_id: int
    homeowner_id: int
    amount_cents: int
