"""API shapes of the CRM."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ftw.core.validation import MAX_ID
from ftw.crm.models import Stage


class InteractionKind(StrEnum):
    """What a contractor may log; ``follow_up`` rows are written by the follow-up task only."""

    NOTE = "note"
    CALL = "call"
    EMAIL = "email"
    SMS = "sms"
    VISIT = "visit"
    REPLY = "reply"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class LeadIn(BaseModel):
    homeowner_id: int = Field(ge=1, le=MAX_ID)


class StageIn(BaseModel):
    stage: Stage


class InteractionIn(BaseModel):
    kind: InteractionKind
    direction: Direction | None = Field(
        default=None, validate_default=True, description="Default: inbound for a reply, else outbound"
    )
    note: str = Field(min_length=1, max_length=2_000)

    @field_validator("note", mode="before")
    @classmethod
    def strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("direction")
    @classmethod
    def reply_is_inbound(cls, value: Direction | None, info: ValidationInfo) -> Direction:
        if info.data.get("kind") != InteractionKind.REPLY:
            return value or Direction.OUTBOUND
        if value not in (None, Direction.INBOUND):
            raise ValueError("A reply comes from the customer: its direction is inbound")
        return Direction.INBOUND


class InteractionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    kind: str
    direction: Direction
    note: str
    created_at: datetime


class InteractionPage(BaseModel):
    items: list[InteractionOut]
    next_cursor: str | None


class FollowUpOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    day: int
    due_at: datetime
    status: str
    sent_at: datetime | None


class FollowUpDue(BaseModel):
    """A scheduled follow-up of one of the contractor's customers."""

    customer_id: int
    homeowner_name: str
    day: int
    due_at: datetime


class CustomerOut(BaseModel):
    id: int
    homeowner_id: int
    homeowner_name: str
    stage: Stage
    lifetime_value_cents: int
    jobs_count: int
    first_job_id: int | None
    last_interaction_at: datetime | None
    created_at: datetime


class CustomerDetail(CustomerOut):
    """Contact details appear once the customer has awarded the contractor a job."""

    email: str | None
    phone: str | None
    follow_ups: list[FollowUpOut]


class CustomerPage(BaseModel):
    items: list[CustomerOut]
    next_cursor: str | None
