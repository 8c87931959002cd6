"""Customers (one per contractor and homeowner), interactions and follow-ups."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Identity, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ftw.core.db import Base, Timestamped
from ftw.core.lifecycle import ANYONE, Lifecycle, one_of, status_type


class Stage(StrEnum):
    LEAD = "lead"
    ACTIVE = "active"
    COMPLETED = "completed"
    ADVOCATE = "advocate"
    INACTIVE = "inactive"


class Customer(Timestamped, Base):
    __tablename__ = "crm_customers"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    contractor_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    homeowner_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    first_job_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("jobs.id"))
    stage: Mapped[str] = mapped_column(String(12), server_default=Stage.ACTIVE.value)
    lifetime_value_cents: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    jobs_count: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    last_interaction_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("stage IN ('lead', 'active', 'completed', 'advocate', 'inactive')", name="stage"),
        Index("uq_crm_customers_pair", "contractor_id", "homeowner_id", unique=True),
        # The pipeline: a contractor's customers by stage, most recently touched first.
        Index("ix_crm_pipeline", "contractor_id", "stage", text("last_interaction_at DESC NULLS LAST")),
        # The daily sweep for customers gone quiet (crm.mark_inactive).
        Index(
            "ix_crm_customers_idle",
            "last_interaction_at",
            postgresql_where=text("stage IN ('lead', 'completed', 'advocate')"),
        ),
    )


class Interaction(Base):
    __tablename__ = "crm_interactions"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("crm_customers.id"))
    kind: Mapped[str] = mapped_column(String(16))  # note, call, email, sms, visit, reply
    direction: Mapped[str] = mapped_column(String(8), server_default="outbound")
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))

    __table_args__ = (
        CheckConstraint("direction IN ('inbound', 'outbound')", name="direction"),
        Index("ix_crm_interactions_customer", "customer_id", text("id DESC")),
    )


class FollowUpStatus(StrEnum):
    SCHEDULED = "scheduled"
    SENT = "sent"
    PAUSED = "paused"  # the homeowner replied
    CANCELLED = "cancelled"  # a new job superseded the sequence


F = FollowUpStatus

FOLLOW_UP = Lifecycle(
    "a follow-up",
    FollowUpStatus,
    {
        (F.SCHEDULED, F.SENT): ANYONE,
        (F.SCHEDULED, F.PAUSED): ANYONE,
        (F.SCHEDULED, F.CANCELLED): ANYONE,
        # Another job completed: its sequence starts again, whatever became of the last one.
        **{(state, F.SCHEDULED): ANYONE for state in F},
    },
)


class FollowUp(Base):
    """One step of a follow-up sequence (day 1, 3, 7, 30 after the job)."""

    __tablename__ = "crm_followups"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("crm_customers.id"))
    day: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime]
    status: Mapped[FollowUpStatus] = mapped_column(
        status_type(FollowUpStatus, 10), server_default=FollowUpStatus.SCHEDULED.value
    )
    sent_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint(one_of("status", FollowUpStatus), name="status"),
        Index("uq_crm_followups_step", "customer_id", "day", unique=True),
        Index("ix_crm_followups_due", "due_at", postgresql_where=text("status = 'scheduled'")),
    )
