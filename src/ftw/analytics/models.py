"""Counters written on the hot path and daily roll-ups written by a scheduled task."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ftw.bids.models import Bid
from ftw.billing.models import LedgerEntry
from ftw.core.db import Base
from ftw.jobs.models import Job


class JobStats(Base):
    """Per-job figures: views, bids, and when the first bid came."""

    __tablename__ = "job_stats"

    job_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("jobs.id"), primary_key=True)
    views: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    bids: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    first_bid_at: Mapped[datetime | None]


class DailyFigures(Base):
    """One row per day and territory ('' for the whole platform); recomputed idempotently."""

    __tablename__ = "daily_figures"

    day: Mapped[date] = mapped_column(primary_key=True)
    territory_fips: Mapped[str] = mapped_column(String(5), primary_key=True)
    jobs_posted: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    jobs_completed: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    bids: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    active_users: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    revenue_cents: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    computed_at: Mapped[datetime] = mapped_column(server_default=text("now()"))

    __table_args__ = (Index("ix_daily_figures_territory", "territory_fips", text("day DESC")),)


# Access paths of the daily roll-up on other domains' tables (created by migration 0006).
# Declared here, beside the only reads that need them, rather than in their owners' models.
ix_jobs_created_at = Index("ix_jobs_created_at", Job.created_at)
ix_jobs_completed_at = Index(
    "ix_jobs_completed_at", Job.updated_at, postgresql_where=text("status = 'completed'")
)
ix_bids_created_at = Index("ix_bids_created_at", Bid.created_at)
ix_ledger_fees_recent = Index(
    "ix_ledger_fees_recent",
    LedgerEntry.created_at,
    postgresql_where=text("account IN ('platform', 'operator')"),
)
