"""Refining the offline estimate with a language model, when one is configured.

The offline estimate is always computed first and is the answer whenever the model is
not usable: the vendor fails, times out, its breaker is open, or its answer is unparsable
or outside the bounds below (then the estimate is marked ``degraded``). A refinement may
only move the range within ``min_factor`` x offline low .. ``max_factor`` x offline high.
"""

from __future__ import annotations

from dataclasses import replace

import structlog

from ftw.config import JobRules, LlmVendor
from ftw.integrations.llm import JobText, LlmUnavailable, Refinement, Refiner
from ftw.scoping.estimator import Estimate, size_for, tier_for
from ftw.scoping.trades import Trade

log = structlog.get_logger(__name__)
# The model's confidence is capped: it never knows more than a site visit would tell.
MAX_LLM_CONFIDENCE = 0.95


async def refined(
    offline: Estimate,
    *,
    refiner: Refiner | None,
    vendor: LlmVendor,
    rules: JobRules,
    trade: Trade,
    title: str,
    description: str,
    state: str | None,
) -> Estimate:
    """The LLM's refinement of ``offline`` (source "llm"), or ``offline`` itself, degraded if the
    refinement was wanted but could not be used; without a refiner, ``offline`` unchanged."""
    if refiner is None:
        return offline
    job = JobText(
        trade=trade.value,
        title=title,
        description=description,
        state=state,
        offline_low_cents=offline.price_low_cents,
        offline_high_cents=offline.price_high_cents,
    )
    try:
        answer = await refiner.refine(job)
    except LlmUnavailable as failure:
        log.warning("llm_unavailable", reason=str(failure))
        return _degraded(offline, "language model unavailable")
    problem = _out_of_bounds(answer, offline, vendor)
    if problem:
        log.warning("llm_answer_refused", reason=problem)
        return _degraded(offline, f"language model answer refused: {problem}")
    low = _whole_dollars(answer.price_low_cents)
    high = _whole_dollars(answer.price_high_cents)
    return replace(
        offline,
        price_low_cents=low,
        price_high_cents=high,
        size=size_for(high, rules),
        tier=tier_for(high, rules),
        confidence=round(min(answer.confidence, MAX_LLM_CONFIDENCE), 2),
        rationale=(*offline.rationale, f"refined by {refiner.name}: {answer.note}"),
        source="llm",
    )


def _out_of_bounds(answer: Refinement, offline: Estimate, vendor: LlmVendor) -> str | None:
    if answer.price_low_cents >= answer.price_high_cents:
        return "low is not below high"
    if answer.price_low_cents < offline.price_low_cents * vendor.min_factor:
        return "low too far below the offline estimate"
    if answer.price_high_cents > offline.price_high_cents * vendor.max_factor:
        return "high too far above the offline estimate"
    return None


def _degraded(offline: Estimate, reason: str) -> Estimate:
    return replace(offline, degraded=True, rationale=(*offline.rationale, f"offline estimate: {reason}"))


def _whole_dollars(cents: int) -> int:
    return (cents + 50) // 100 * 100
