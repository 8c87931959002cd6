"""Counters written on the hot path and daily roll-ups written by a scheduled task."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ftw.core.db import Base


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
