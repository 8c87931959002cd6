"""API shapes of messaging."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

# 5,000 characters mirrors the CHECK constraint on messages.body.
BODY_MAX = 5_000


class MessageIn(BaseModel):
    body: str = Field(min_length=1, max_length=BODY_MAX)
    contractor_id: int | None = Field(
        default=None, description="Homeowners: which bidder's thread (contractors use their own)"
    )

    @field_validator("body", mode="before")
    @classmethod
    def strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    thread_id: int
    sender_id: int
    body: str
    created_at: datetime


class MessagePage(BaseModel):
    """A thread's messages, newest first; ``thread_id`` is null until the first message."""

    thread_id: int | None
    items: list[MessageOut]
    next_cursor: str | None


class ThreadSummary(BaseModel):
    id: int
    job_id: int
    job_title: str
    homeowner_id: int
    contractor_id: int
    last_message_at: datetime
    last_message_preview: str
    last_sender_id: int
    unread: int


class ThreadPage(BaseModel):
    items: list[ThreadSummary]
    next_cursor: str | None


class ReadIn(BaseModel):
    message_id: int | None = Field(default=None, description="Read up to this message; default: the latest")


class ReadOut(BaseModel):
    thread_id: int
    last_read_message_id: int
    unread: int


class UnreadOut(BaseModel):
    unread: int


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    payload: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None
    unread: int


class ReadAllOut(BaseModel):
    marked: int
