"""Reviews and the contractor statistics they feed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    Text,
)
from sqlalchemy import text as sql
from sqlalchemy.orm import Mapped, mapped_column

from ftw.core.db import Base


class Review(Base):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    job_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("jobs.id"))
    homeowner_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    contractor_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    rating: Mapped[int] = mapped_column(SmallInteger)
    body: Mapped[str] = mapped_column(Text)
    response: Mapped[str | None] = mapped_column(Text)
    responded_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=sql("now()"))

    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),
        Index("uq_reviews_job", "job_id", unique=True),
        Index("ix_reviews_contractor_recent", "contractor_id", sql("created_at DESC")),
    )


class ContractorStats(Base):
    """Running figures per contractor, updated in the transaction that changes them."""

    __tablename__ = "contractor_stats"

    contractor_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), primary_key=True)
    rating_count: Mapped[int] = mapped_column(Integer, server_default=sql("0"))
    rating_sum: Mapped[int] = mapped_column(Integer, server_default=sql("0"))
    rating_avg: Mapped[float] = mapped_column(Numeric(3, 2, asdecimal=False), server_default=sql("0"))
    jobs_completed: Mapped[int] = mapped_column(Integer, server_default=sql("0"))
    performance_score: Mapped[float] = mapped_column(Numeric(5, 2, asdecimal=False), server_default=sql("0"))
    updated_at: Mapped[datetime] = mapped_column(server_default=sql("now()"))
