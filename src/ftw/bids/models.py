"""Bids and their boosts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Identity, Index, Integer, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ftw.accounts.models import Role
from ftw.core.db import Base, Timestamped
from ftw.core.lifecycle import ANYONE, Lifecycle, one_of, status_type


class BidStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


BID = Lifecycle(
    "a bid",
    BidStatus,
    {
        (BidStatus.PENDING, BidStatus.ACCEPTED): {Role.HOMEOWNER},
        (BidStatus.PENDING, BidStatus.REJECTED): ANYONE,  # the homeowner accepted another bid
        (BidStatus.PENDING, BidStatus.WITHDRAWN): {Role.CONTRACTOR},
    },
)


class Bid(Timestamped, Base):
    __tablename__ = "bids"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    job_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("jobs.id"))
    contractor_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    amount_cents: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[BidStatus] = mapped_column(
        status_type(BidStatus, 10), server_default=BidStatus.PENDING.value
    )
    is_lightning: Mapped[bool] = mapped_column(server_default=text("false"))
    boosted_until: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint(one_of("status", BidStatus), name="status"),
        CheckConstraint("amount_cents > 0", name="amount"),
        # One live bid per contractor per job.
        Index(
            "uq_bids_live",
            "job_id",
            "contractor_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
        # At most one accepted bid per job, whatever races.
        Index("uq_bids_accepted", "job_id", unique=True, postgresql_where=text("status = 'accepted'")),
        # The homeowner's view of a job's bids.
        Index("ix_bids_job", "job_id", "status", "amount_cents"),
        # A contractor's live bids, newest first.
        Index(
            "ix_bids_contractor_live",
            "contractor_id",
            text("created_at DESC"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_bids_contractor_recent", "contractor_id", text("created_at DESC"), text("id DESC")),
    )


class BidBoost(Base):
    """A paid boost: the bid is shown above others until ``ends_at``."""

    __tablename__ = "bid_boosts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    bid_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("bids.id"))
    job_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("jobs.id"))
    price_cents: Mapped[int] = mapped_column(Integer)
    payment_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("payments.id"))
    starts_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    ends_at: Mapped[datetime]

    __table_args__ = (Index("ix_bid_boosts_job_live", "job_id", "ends_at"),)
