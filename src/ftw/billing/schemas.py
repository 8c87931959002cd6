"""API shapes of billing: payments, balances, payouts and invoices."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Header
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from ftw.billing.models import InvoiceStatus, PaymentPurpose, PaymentStatus, PayoutSpeed, PayoutStatus
from ftw.core.validation import MAX_ID, NoNul

# Cents columns are 32-bit: bounds here keep every sum far below 2**31.
MAX_CENTS = 100_000_000  # $1,000,000 for one payment, payout or invoice line
MAX_INVOICE_SUBTOTAL_CENTS = 1_000_000_000
PaymentMethod = Annotated[
    str, NoNul, Field(min_length=1, max_length=100, description="The provider's payment method id")
]
DEFAULT_METHOD = "pm_card_visa"


class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    purpose: PaymentPurpose
    status: PaymentStatus
    amount_cents: int
    fee_cents: int
    job_id: int | None
    bid_id: int | None
    invoice_id: int | None
    attempts: int
    failure_reason: str | None
    created_at: datetime


class BalanceOut(BaseModel):
    available_cents: int = Field(description="What a payout can take now")
    pending_cents: int = Field(description="Held in escrow for awarded jobs; available on completion")
    held_cents: int = Field(
        default=0, description="Earned within the holding period (chargebacks): available when it ends"
    )


class PayoutAccountOut(BaseModel):
    account_id: str
    onboarding_url: str = Field(description="Where the owner gives the provider its identity and bank")


class PayoutCreate(BaseModel):
    amount_cents: int = Field(gt=0, le=MAX_CENTS)
    speed: PayoutSpeed = PayoutSpeed.STANDARD


class PayoutOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    amount_cents: int
    fee_cents: int
    speed: PayoutSpeed
    status: PayoutStatus
    created_at: datetime
    paid_at: datetime | None


class PayoutPage(BaseModel):
    items: list[PayoutOut]
    next_cursor: str | None


class InvoiceLineIn(BaseModel):
    description: Annotated[str, NoNul] = Field(min_length=1, max_length=200)
    quantity: int = Field(gt=0, le=10_000)
    unit_cents: int = Field(ge=0, le=MAX_CENTS)

    @field_validator("description", mode="before")
    @classmethod
    def strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value


class InvoiceLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    description: str
    quantity: int
    unit_cents: int
    amount_cents: int


class InvoiceCreate(BaseModel):
    job_id: int = Field(gt=0, le=MAX_ID)
    lines: list[InvoiceLineIn] = Field(min_length=1, max_length=100)
    tax_rate_bps: int = Field(default=0, ge=0, le=10_000, description="Basis points: 825 = 8.25 %")
    notes: Annotated[str, NoNul] | None = Field(default=None, max_length=2_000)

    @field_validator("lines")
    @classmethod
    def bounded(cls, lines: list[InvoiceLineIn]) -> list[InvoiceLineIn]:
        subtotal = sum(line.quantity * line.unit_cents for line in lines)
        if subtotal <= 0:
            raise ValueError("An invoice must charge something")
        if subtotal > MAX_INVOICE_SUBTOTAL_CENTS:
            raise ValueError(f"An invoice's subtotal is at most {MAX_INVOICE_SUBTOTAL_CENTS} cents")
        return lines


class InvoiceSend(BaseModel):
    due_at: AwareDatetime | None = Field(default=None, description="Default: 14 days from now")


class InvoicePay(BaseModel):
    amount_cents: int = Field(gt=0, le=MAX_CENTS * 20)
    payment_method: PaymentMethod = DEFAULT_METHOD


class InvoiceSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    job_id: int
    contractor_id: int
    homeowner_id: int
    status: InvoiceStatus
    total_cents: int
    paid_cents: int
    due_at: datetime | None
    created_at: datetime


class InvoiceOut(InvoiceSummary):
    subtotal_cents: int
    tax_rate_bps: int
    tax_cents: int
    late_fee_cents: int
    balance_due_cents: int
    notes: str | None
    sent_at: datetime | None
    viewed_at: datetime | None
    paid_at: datetime | None
    lines: list[InvoiceLineOut]


class InvoicePage(BaseModel):
    items: list[InvoiceSummary]
    next_cursor: str | None


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=64,
        pattern=r"^[!-~]+$",
        description="Repeat a request with the same key to get the first result instead of a second charge",
    ),
]
