"""Threads, messages, read markers, notifications and their deliveries."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Identity, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ftw.core.db import Base
from ftw.core.lifecycle import ANYONE, Lifecycle, one_of, status_type

PREVIEW_CHARS = 140  # of a message's body, in its notification and its thread's summary


class Thread(Base):
    """One conversation per job and contractor who bid on it. Its last message's preview and
    sender are copied onto it as it is sent, so the thread list reads no message."""

    __tablename__ = "threads"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    job_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("jobs.id"))
    homeowner_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    contractor_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    last_message_at: Mapped[datetime | None]
    last_message_preview: Mapped[str | None] = mapped_column(Text)
    last_sender_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))

    __table_args__ = (
        Index("uq_threads_job_contractor", "job_id", "contractor_id", unique=True),
        Index("ix_threads_homeowner_recent", "homeowner_id", text("last_message_at DESC NULLS LAST")),
        Index("ix_threads_contractor_recent", "contractor_id", text("last_message_at DESC NULLS LAST")),
    )


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    thread_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("threads.id"))
    sender_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))

    __table_args__ = (
        CheckConstraint("length(body) BETWEEN 1 AND 5000", name="body"),
        Index("ix_messages_thread", "thread_id", "id"),
    )


class ThreadRead(Base):
    """How far each participant has read a thread; unread = messages after it."""

    __tablename__ = "thread_reads"

    thread_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("threads.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), primary_key=True)
    last_read_message_id: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    read_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_notifications_user_recent", "user_id", text("id DESC")),
        Index("ix_notifications_user_unread", "user_id", postgresql_where=text("read_at IS NULL")),
    )


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # queued, or refused by the provider and waiting for its retry
    SENT = "sent"
    FAILED = "failed"  # given up: refused too often, switched off, no number, STOP


DELIVERY = Lifecycle(
    "a delivery",
    DeliveryStatus,
    {
        (DeliveryStatus.PENDING, DeliveryStatus.SENT): ANYONE,
        (DeliveryStatus.PENDING, DeliveryStatus.FAILED): ANYONE,
    },
)


class Delivery(Base):
    """A notification sent through one channel; (notification, channel) is sent once."""

    __tablename__ = "notification_deliveries"

    notification_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("notifications.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    status: Mapped[DeliveryStatus] = mapped_column(
        status_type(DeliveryStatus, 10), server_default=DeliveryStatus.PENDING.value
    )
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    provider_ref: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("channel IN ('sms', 'email')", name="channel"),
        CheckConstraint(one_of("status", DeliveryStatus), name="status"),
    )
