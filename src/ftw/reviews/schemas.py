"""API shapes of reviews and contractor profiles."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

BODY_MIN = 10
BODY_MAX = 2_000


class _Text(BaseModel):
    @field_validator("body", mode="before", check_fields=False)
    @classmethod
    def strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value


class ReviewIn(_Text):
    rating: int = Field(ge=1, le=5)
    body: str = Field(min_length=BODY_MIN, max_length=BODY_MAX)


class ResponseIn(_Text):
    body: str = Field(min_length=1, max_length=BODY_MAX)


class ReviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    job_id: int
    contractor_id: int
    rating: int
    body: str
    response: str | None
    responded_at: datetime | None
    created_at: datetime
    reviewer: str = Field(description="The homeowner's first name")


class ReviewPage(BaseModel):
    items: list[ReviewOut]
    next_cursor: str | None


class ContractorProfile(BaseModel):
    id: int
    full_name: str
    territory_fips: str | None
    is_available: bool
    member_since: datetime
    rating_avg: float
    rating_count: int
    jobs_completed: int
    performance_score: float = Field(description="0-100; see ftw.reviews.service.performance_score")
