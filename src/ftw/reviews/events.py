"""What reviews announce to the domains that care (``core.events``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reviewed:
    """The homeowner reviewed the contractor's work."""

    contractor_id: int
    homeowner_id: int
    rating: int
