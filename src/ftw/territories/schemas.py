"""API shapes of territories."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class TerritoryOut(BaseModel):
    fips: str
    state: str
    name: str
    population: int
    rurality: str
    claim_price_cents: int
    monthly_cents: int
    claimed: bool
    operator_id: int | None
    claimed_at: datetime | None


class TerritoryPage(BaseModel):
    items: list[TerritoryOut]
    next_cursor: str | None


class ClaimOut(TerritoryOut):
    claim_number: int
    free_claim: bool
