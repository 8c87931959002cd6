"""API shapes of scoping: an estimate (a job's, or one without posting a job)."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from ftw.scoping.estimator import JobSize, JobTier
from ftw.scoping.trades import Trade


class EstimateOut(BaseModel):
    price_low_cents: int
    price_high_cents: int
    size: JobSize
    tier: JobTier
    confidence: float
    materials: list[str]
    source: str


class ScopeRequest(BaseModel):
    title: str = Field(min_length=1, max_length=120)
    description: str = Field(min_length=1, max_length=5_000)
    trade: Trade
    zip: str | None = Field(default=None, pattern=r"^\d{5}$")
    state: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")

    @model_validator(mode="after")
    def one_place(self) -> ScopeRequest:
        if self.zip and self.state:
            raise ValueError("Give either zip or state, not both")
        return self


class ScopeOut(EstimateOut):
    degraded: bool
    rationale: list[str]
