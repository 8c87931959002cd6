"""Jobs and their photos."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from ftw.accounts.models import Role
from ftw.core.db import Base, Timestamped
from ftw.core.lifecycle import Lifecycle, one_of, status_type
from ftw.scoping.estimator import JobSize, JobTier
from ftw.scoping.trades import Trade


class JobStatus(StrEnum):
    OPEN = "open"
    AWARDED = "awarded"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


S = JobStatus

# Which move each role may make.
JOB = Lifecycle(
    "a job",
    JobStatus,
    {
        (S.OPEN, S.AWARDED): {Role.HOMEOWNER},  # by accepting a bid
        (S.AWARDED, S.IN_PROGRESS): {Role.CONTRACTOR},
        (S.IN_PROGRESS, S.COMPLETED): {Role.HOMEOWNER},
        (S.OPEN, S.CANCELLED): {Role.HOMEOWNER, Role.ADMIN},
        # A paid job, refunded (bids/flows.refund): before the work starts by its homeowner,
        # once started only by an admin deciding a dispute.
        (S.AWARDED, S.CANCELLED): {Role.HOMEOWNER, Role.ADMIN},
        (S.IN_PROGRESS, S.CANCELLED): {Role.ADMIN},
    },
)

EDITABLE = frozenset({S.OPEN})


class Urgency(StrEnum):
    FLEXIBLE = "flexible"
    NORMAL = "normal"
    URGENT = "urgent"


SEARCH_DOCUMENT = (
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B')"
)


class Job(Timestamped, Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    homeowner_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    territory_fips: Mapped[str] = mapped_column(String(5), ForeignKey("territories.fips"))
    zip: Mapped[str] = mapped_column(String(5))
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text)
    trade: Mapped[str] = mapped_column(String(32))
    urgency: Mapped[str] = mapped_column(String(16), server_default=Urgency.NORMAL.value)
    status: Mapped[JobStatus] = mapped_column(status_type(JobStatus, 16), server_default=JobStatus.OPEN.value)
    deadline_at: Mapped[datetime | None]
    # The estimate the scoping domain produced when the job was posted or edited.
    price_low_cents: Mapped[int] = mapped_column(Integer)
    price_high_cents: Mapped[int] = mapped_column(Integer)
    size: Mapped[str] = mapped_column(String(8))
    tier: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Numeric(3, 2, asdecimal=False))
    materials: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    estimate_source: Mapped[str] = mapped_column(String(16), server_default="offline")
    photo_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    cancelled_at: Mapped[datetime | None]
    search: Mapped[str] = mapped_column(TSVECTOR, Computed(SEARCH_DOCUMENT, persisted=True), deferred=True)

    __table_args__ = (
        CheckConstraint(one_of("status", JobStatus), name="status"),
        CheckConstraint(one_of("urgency", Urgency), name="urgency"),
        CheckConstraint(one_of("trade", Trade), name="trade"),
        CheckConstraint(one_of("size", JobSize), name="size"),
        CheckConstraint(one_of("tier", JobTier), name="tier"),
        CheckConstraint("price_low_cents > 0 AND price_low_cents <= price_high_cents", name="price_range"),
        CheckConstraint("photo_count >= 0", name="photo_count"),
        # Browse: the open jobs of a county, newest first, answered from the index alone.
        Index(
            "ix_jobs_browse_open",
            "territory_fips",
            text("created_at DESC"),
            text("id DESC"),
            postgresql_where=text("status = 'open'"),
            postgresql_include=[
                "status",
                "title",
                "trade",
                "size",
                "urgency",
                "tier",
                "price_low_cents",
                "price_high_cents",
                "zip",
                "deadline_at",
            ],
        ),
        # Browse by any other status (awarded, completed, ...).
        Index(
            "ix_jobs_territory_status_recent",
            "territory_fips",
            "status",
            text("created_at DESC"),
            text("id DESC"),
        ),
        Index(
            "ix_jobs_urgent_open",
            "territory_fips",
            "deadline_at",
            postgresql_where=text("urgency = 'urgent' AND status = 'open'"),
        ),
        Index("ix_jobs_search", "search", postgresql_using="gin"),
        # Search of a county's open jobs (or all counties'): skips the closed majority of the
        # table, and other counties' jobs within one index scan. GIN holds the county through
        # btree_gin (migration 0012; on the embedded server without it, the words alone).
        Index(
            "ix_jobs_search_open",
            "territory_fips",
            "search",
            postgresql_using="gin",
            postgresql_where=text("status = 'open'"),
            # No pending list for every search to scan: the insert (rare) updates the index.
            postgresql_with={"fastupdate": "off"},
        ),
        Index("ix_jobs_homeowner_recent", "homeowner_id", text("created_at DESC"), text("id DESC")),
    )


class JobPhoto(Base):
    __tablename__ = "job_photos"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    job_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("jobs.id", ondelete="CASCADE"))
    storage_key: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(Integer)
    # [{"key": ..., "width": ..., "height": ...}] narrowest first; empty for photos stored
    # before thumbnails were made (pages then show the original).
    thumbnails: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))

    __table_args__ = (Index("ix_job_photos_job", "job_id", "id"),)
