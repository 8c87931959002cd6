"""A language model that refines the offline estimate; Anthropic's SDK is the real adapter.

The adapter only asks and parses: it returns a :class:`Refinement` or raises
:class:`LlmUnavailable`. Whether the answer is sane next to the offline estimate is
scoping's rule, not the vendor's.
"""

from __future__ import annotations

import json
from typing import Protocol

import anthropic
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ftw.config import LlmVendor
from ftw.core.breakers import CircuitBreaker

SYSTEM = (
    "You refine price estimates for US home-service jobs. You get the job and an offline "
    "estimate in cents. Answer with one JSON object and nothing else: "
    '{"price_low_cents": int, "price_high_cents": int, "confidence": number 0-1, '
    '"note": short reason}. Stay close to the offline range unless the text clearly says otherwise.'
)


class LlmUnavailable(Exception):
    """No usable answer: the vendor failed, timed out, its breaker is open, or it answered nonsense."""


class Refinement(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    price_low_cents: int = Field(gt=0)
    price_high_cents: int = Field(gt=0)
    confidence: float = Field(ge=0, le=1)
    note: str = Field(max_length=300)


class JobText(BaseModel):
    trade: str
    title: str
    description: str
    state: str | None
    offline_low_cents: int
    offline_high_cents: int


class Refiner(Protocol):
    name: str

    async def refine(self, job: JobText) -> Refinement: ...


class AnthropicRefiner:
    """Claude through the official SDK, guarded by the llm breaker; the SDK does not retry."""

    name = "anthropic"

    def __init__(self, vendor: LlmVendor, *, api_key: str, breaker: CircuitBreaker) -> None:
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=vendor.base_url,
            max_retries=0,
            timeout=breaker.policy.call_timeout_s,
        )
        self._vendor = vendor
        self._breaker = breaker

    async def refine(self, job: JobText) -> Refinement:
        try:
            message = await self._breaker.call(
                lambda: self._client.messages.create(
                    model=self._vendor.model,
                    max_tokens=self._vendor.max_tokens,
                    system=SYSTEM,
                    messages=[{"role": "user", "content": job.model_dump_json()}],
                )
            )
        except Exception as failure:
            raise LlmUnavailable(str(failure) or type(failure).__name__) from failure
        text = "".join(block.text for block in message.content if block.type == "text")
        try:
            return Refinement.model_validate(json.loads(text))
        except (ValueError, ValidationError) as nonsense:
            raise LlmUnavailable(f"unparsable answer: {text[:100]!r}") from nonsense
