"""API shapes of territories."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from ftw.billing.schemas import DEFAULT_METHOD, PaymentMethod


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


class ClaimPayment(BaseModel):
    payment_method: PaymentMethod = DEFAULT_METHOD


class ClaimOut(TerritoryOut):
    claim_number: int
    free_claim: bool
    monthly_due_at: datetime | None = None
    payment_id: int | None = None  # the claim's charge, when it was not free
