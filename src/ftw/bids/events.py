"""What bids announce to the domains that care (``core.events``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class BidPlaced:
    job_id: int
    at: datetime
