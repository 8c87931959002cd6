"""What messaging announces to the domains that care (``core.events``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HomeownerReplied:
    """The homeowner wrote in a job thread with the contractor."""

    contractor_id: int
    homeowner_id: int
