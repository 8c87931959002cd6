"""Input bounds PostgreSQL imposes, checked at the edge so they are 422s, not 500s."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator

MAX_ID = 2**63 - 1  # ids are BIGINT

Id = Annotated[int, Path(ge=1, le=MAX_ID)]


def _no_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


NoNul = AfterValidator(_no_nul)
