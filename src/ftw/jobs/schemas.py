"""API shapes of jobs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ftw.core.validation import NoNul
from ftw.jobs.models import JobStatus, Urgency
from ftw.scoping.estimator import JobSize, JobTier
from ftw.scoping.schemas import EstimateOut
from ftw.scoping.trades import Trade

# Length bounds mirror config.JobRules; the service re-checks against the live settings.


class _Text(BaseModel):
    @field_validator("title", "description", mode="before", check_fields=False)
    @classmethod
    def strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value


class JobCreate(_Text):
    title: Annotated[str, NoNul] = Field(min_length=1, max_length=120)
    description: Annotated[str, NoNul] = Field(min_length=1, max_length=5_000)
    trade: Trade
    zip: str = Field(pattern=r"^\d{5}$")
    territory_fips: str | None = Field(
        default=None, pattern=r"^\d{5}$", description="County; derived from the ZIP when omitted"
    )
    urgency: Urgency = Urgency.NORMAL


class JobUpdate(_Text):
    title: Annotated[str, NoNul] | None = Field(default=None, min_length=1, max_length=120)
    description: Annotated[str, NoNul] | None = Field(default=None, min_length=1, max_length=5_000)
    trade: Trade | None = None
    urgency: Urgency | None = None


class ThumbnailOut(BaseModel):
    url: str
    width: int
    height: int


class PhotoOut(BaseModel):
    id: int
    url: str  # the original, stripped of its metadata
    content_type: str
    size_bytes: int
    thumbnails: list[ThumbnailOut] = Field(
        default_factory=list, description="WebP, narrowest first; empty for photos stored before thumbnails"
    )


class JobSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    trade: Trade
    status: JobStatus
    urgency: Urgency
    territory_fips: str
    zip: str
    size: JobSize
    tier: JobTier
    price_low_cents: int
    price_high_cents: int
    deadline_at: datetime | None
    created_at: datetime
    rank: float | None = None


class JobOut(BaseModel):
    id: int
    homeowner_id: int
    title: str
    description: str
    trade: Trade
    status: JobStatus
    urgency: Urgency
    territory_fips: str
    zip: str
    deadline_at: datetime | None
    estimate: EstimateOut
    photos: list[PhotoOut]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class JobFilters:
    """What a list of jobs is narrowed to; None is any."""

    status: JobStatus = JobStatus.OPEN
    territory: str | None = None
    homeowner_id: int | None = None  # a homeowner's own jobs
    size: JobSize | None = None
    trade: Trade | None = None
    urgent: bool | None = None


class JobPage(BaseModel):
    items: list[JobSummary]
    next_cursor: str | None
