"""API shapes of bids and awards."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ftw.bids.models import BidStatus
from ftw.billing.schemas import DEFAULT_METHOD, MAX_CENTS, PaymentMethod, PaymentOut
from ftw.core.validation import NoNul

# The message length floor lives in config.BidRules; the service checks it.


class _Message(BaseModel):
    @field_validator("message", mode="before", check_fields=False)
    @classmethod
    def strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value


class BidCreate(_Message):
    amount_cents: int = Field(gt=0, le=MAX_CENTS)
    message: Annotated[str, NoNul] = Field(min_length=1, max_length=2_000)


class BidUpdate(_Message):
    amount_cents: int | None = Field(default=None, gt=0, le=MAX_CENTS)
    message: Annotated[str, NoNul] | None = Field(default=None, min_length=1, max_length=2_000)


class BidOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    job_id: int
    contractor_id: int
    amount_cents: int
    message: str
    status: BidStatus
    is_lightning: bool
    boosted_until: datetime | None
    decided_at: datetime | None
    created_at: datetime
    updated_at: datetime


class BidPage(BaseModel):
    items: list[BidOut]
    next_cursor: str | None


class PayWith(BaseModel):
    payment_method: PaymentMethod = DEFAULT_METHOD
    # The bid's amount as the homeowner saw it: when sent, the accept is refused (409) if the
    # contractor changed the bid since, so nobody pays an amount they did not see.
    amount_cents: int | None = Field(default=None, ge=1, le=100_000_000)


class AwardOut(BaseModel):
    status: Literal["awarded", "pending"] = Field(
        description="pending: the provider was unreachable; the charge is retried in the background"
    )
    job_id: int
    bid_id: int
    payment: PaymentOut
