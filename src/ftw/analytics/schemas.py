"""API shapes of analytics."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict


class JobFigures(BaseModel):
    job_id: int
    views: int
    bids: int
    first_bid_at: datetime | None
    time_to_first_bid_s: float | None


class ContractorFigures(BaseModel):
    """A contractor's figures over the last ``days`` days (bids by when they were placed)."""

    days: int
    bids_placed: int
    bids_won: int
    bids_lost: int
    bids_pending: int
    win_rate: float | None  # won / (won + lost); None before any bid was decided
    median_response_s: float | None  # from a job's posting to this contractor's bid on it
    escrow_released_cents: int  # job payments released to the contractor's balance
    invoices_paid_cents: int  # invoice payments credited to its balance
    revenue_cents: int
    rating_avg: float
    rating_count: int
    performance_score: float


class DayFigures(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    day: date
    jobs_posted: int
    jobs_completed: int
    bids: int
    active_users: int
    revenue_cents: int


class Totals(BaseModel):
    jobs_posted: int
    jobs_completed: int
    bids: int
    revenue_cents: int


class TerritoryFigures(BaseModel):
    fips: str
    days: int
    totals: Totals
    active_contractors: int  # distinct bidders on the territory's jobs posted in the window
    operator_earnings_cents: int  # credited to the territory's current operator in the window
    daily: list[DayFigures]  # newest first, one row per day (zeros where nothing happened)


class PlatformFigures(BaseModel):
    days: int
    totals: Totals
    daily: list[DayFigures]


class DayResponse(BaseModel):
    day: date
    jobs_bid: int  # jobs posted that day that have a bid
    median_first_bid_s: float | None  # from posting to the first bid, over those jobs


class CountyContractor(BaseModel):
    """A contractor of a county, for its operator: no bid amount, only how it answers."""

    id: int
    full_name: str
    is_available: bool
    rating_avg: float
    rating_count: int
    jobs_completed: int
    bids: int  # on the county's jobs in the window
    median_response_s: float | None  # from a job's posting to this contractor's bid on it
