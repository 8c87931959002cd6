"""The offline estimator: a price range, materials, size and tier for a job, with no network.

Deterministic by construction (no clock, no randomness, no I/O): the estimate follows from
the trade's profile, the scope phrases and size words in the job's text, and the state's
cost index. Its confidence is a sum of named contributions, each explained in ``rationale``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from types import MappingProxyType

from ftw.config import JobRules
from ftw.scoping.trades import SERVICE_CALL_FLOOR_CENTS, ScopeRule, Trade, TradeProfile, profile_for


class JobSize(StrEnum):
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


class JobTier(StrEnum):
    QUICK_FIX = "QUICK_FIX"
    STANDARD = "STANDARD"
    MAJOR_PROJECT = "MAJOR_PROJECT"


@dataclass(frozen=True)
class Estimate:
    price_low_cents: int
    price_high_cents: int
    materials: tuple[str, ...]
    size: JobSize
    tier: JobTier
    confidence: float
    rationale: tuple[str, ...]
    source: str = "offline"
    degraded: bool = False


# Construction cost relative to the national average, by state (2024 regional cost indexes).
STATE_COST_INDEX: Mapping[str, float] = MappingProxyType(
    {
        "AK": 1.25, "AL": 0.86, "AR": 0.85, "AZ": 0.97, "CA": 1.30, "CO": 1.05, "CT": 1.15,
        "DC": 1.32, "DE": 1.03, "FL": 0.98, "GA": 0.92, "HI": 1.35, "IA": 0.92, "ID": 0.94,
        "IL": 1.08, "IN": 0.93, "KS": 0.90, "KY": 0.90, "LA": 0.88, "MA": 1.25, "MD": 1.08,
        "ME": 1.00, "MI": 0.98, "MN": 1.05, "MO": 0.93, "MS": 0.85, "MT": 0.96, "NC": 0.90,
        "ND": 0.95, "NE": 0.92, "NH": 1.05, "NJ": 1.18, "NM": 0.92, "NV": 1.02, "NY": 1.25,
        "OH": 0.94, "OK": 0.87, "OR": 1.06, "PA": 1.02, "RI": 1.10, "SC": 0.89, "SD": 0.90,
        "TN": 0.89, "TX": 0.93, "UT": 0.97, "VA": 1.00, "VT": 1.02, "WA": 1.12, "WI": 0.98,
        "WV": 0.88, "WY": 0.95,
    }
)  # fmt: skip

SMALL_WORDS = ("small", "minor", "quick", "single", "one", "little", "tiny")
LARGE_WORDS = ("entire", "whole house", "whole home", "complete", "full", "large", "multiple", "extensive")
SMALL_WORD_FACTOR = 0.75
LARGE_WORD_FACTOR = 1.3
# A stated area scales an area-priced range linearly, within these bounds.
AREA_FACTOR_BOUNDS = (0.5, 4.0)
# Each unit beyond the first adds most of a unit's price (one trip, one setup), up to a cap.
EXTRA_UNIT_SHARE = 0.75
MAX_COUNT_FACTOR = 8.0

# Confidence, in hundredths: a base plus one contribution per piece of evidence.
BASE_CONFIDENCE = 35
SCOPE_MATCH_CONFIDENCE = 20
MEASUREMENT_CONFIDENCE = 15
SIZE_WORD_CONFIDENCE = 10
KNOWN_STATE_CONFIDENCE = 10
DETAILED_TEXT_CONFIDENCE = 10
SOME_DETAIL_CONFIDENCE = 5
CONFLICT_PENALTY = 15
MAX_OFFLINE_CONFIDENCE = 90
DETAILED_TEXT_WORDS = 40
SOME_DETAIL_WORDS = 15

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
_COUNT_UNITS = (
    "room|bedroom|bathroom|bath|window|door|outlet|fixture|light|fan|toilet|faucet|sink"
    "|tree|stump|appliance|vent|unit|gate"
)
# "3 rooms", "two small bathrooms": the unit must be plural, so that "a 3 bedroom house"
# describes the house rather than the work. Digit runs are bounded so that int() stays cheap.
_COUNT = re.compile(rf"\b(\d{{1,4}}|{'|'.join(_NUMBER_WORDS)})\s+(?:[a-z]+\s+)?(?:{_COUNT_UNITS})(?:s|es)\b")
# "1,200 sq ft", "200 square feet", "450 sqft"; read from the raw text, which keeps the comma.
_AREA = re.compile(
    r"\b(\d{1,3}(?:,\d{3}){1,2}|\d{1,7})(?:\.\d+)?\s*(?:sq\.?\s*(?:ft|feet)\b|sqft\b|square\s+(?:feet|foot|ft)\b)"
)


def size_for(high_cents: int, rules: JobRules) -> JobSize:
    """The job's size, from the high end of its estimate."""
    if high_cents <= rules.size_small_max_cents:
        return JobSize.SMALL
    if high_cents <= rules.size_medium_max_cents:
        return JobSize.MEDIUM
    return JobSize.LARGE


def tier_for(high_cents: int, rules: JobRules) -> JobTier:
    """The job's tier, from the high end of its estimate."""
    if high_cents <= rules.tier_quick_fix_max_cents:
        return JobTier.QUICK_FIX
    if high_cents <= rules.tier_standard_max_cents:
        return JobTier.STANDARD
    return JobTier.MAJOR_PROJECT


def estimate(*, trade: Trade, title: str, description: str, state: str | None, rules: JobRules) -> Estimate:
    """Estimate a job offline from its trade, its text and its state."""
    profile = profile_for(trade)
    raw = f"{title}\n{description}".lower()
    text = _normalize(raw)
    rationale: list[str] = []
    points = BASE_CONFIDENCE

    base: ScopeRule | TradeProfile
    match = _match_scope(profile.rules, text)
    if match:
        base, phrase = match
        rationale.append(f"scope: {base.scope} (matched '{phrase}'), {_price_range(base)}")
        points += SCOPE_MATCH_CONFIDENCE
    else:
        base = profile
        rationale.append(f"no scope keywords: ordinary {trade.value} job, {_price_range(base)}")

    sizing = _size_evidence(raw, text, base.typical_sqft)
    rationale.extend(sizing.reasons)
    if sizing.measured:
        points += MEASUREMENT_CONFIDENCE
    elif sizing.worded:
        points += SIZE_WORD_CONFIDENCE
    if sizing.conflicting:
        points -= CONFLICT_PENALTY
        rationale.append("conflicting size signals lower confidence")

    code = (state or "").strip().upper()
    region = STATE_COST_INDEX.get(code)
    if region is None:
        region = 1.0
        rationale.append("no known state: national average prices")
    else:
        points += KNOWN_STATE_CONFIDENCE
        rationale.append(f"region {code} (x{region:.2f})")

    words = len(text.split())
    if words >= DETAILED_TEXT_WORDS:
        points += DETAILED_TEXT_CONFIDENCE
        rationale.append(f"detailed description ({words} words)")
    elif words >= SOME_DETAIL_WORDS:
        points += SOME_DETAIL_CONFIDENCE
        rationale.append(f"some detail ({words} words)")

    factor = sizing.factor * region
    low_cents = max(_whole_dollars(base.low_cents * factor), SERVICE_CALL_FLOOR_CENTS)
    # The floor can lift the low end to the high end of a tiny job; keep the range a range.
    high_cents = max(_whole_dollars(base.high_cents * factor), low_cents + 100)
    return Estimate(
        price_low_cents=low_cents,
        price_high_cents=high_cents,
        materials=base.materials,
        size=size_for(high_cents, rules),
        tier=tier_for(high_cents, rules),
        confidence=min(points, MAX_OFFLINE_CONFIDENCE) / 100,
        rationale=tuple(rationale),
    )


@dataclass(frozen=True)
class _Sizing:
    factor: float
    reasons: tuple[str, ...]
    measured: bool  # an area or a count set the factor
    worded: bool  # a size word was found
    conflicting: bool  # some evidence says smaller than typical, some larger


def _size_evidence(raw: str, text: str, typical_sqft: int | None) -> _Sizing:
    """How much bigger or smaller than typical the job reads.

    A measurement is more specific than a word, so it wins: an area (when the scope is priced
    by area), else a count of units, else the size words, which cancel out when they disagree.
    """
    small = [w for w in SMALL_WORDS if _has_phrase(w, text)]
    large = [w for w in LARGE_WORDS if _has_phrase(w, text)]
    area = max((int(m.group(1).replace(",", "")) for m in _AREA.finditer(raw)), default=0)
    # A count of one is no measurement: "one" and "single" are size words.
    counts = ((_count_value(m.group(1)), m.group(0)) for m in _COUNT.finditer(text))
    count, counted = max(((n, words) for n, words in counts if n > 1), default=(0, ""))
    reasons: list[str] = []

    if area and typical_sqft:
        factor = _clamp(area / typical_sqft, *AREA_FACTOR_BOUNDS)
        reasons.append(f"area {area:,} sq ft vs {typical_sqft:,} typical (x{factor:.2f})")
    elif count:
        factor = min(1 + EXTRA_UNIT_SHARE * (count - 1), MAX_COUNT_FACTOR)
        reasons.append(f"count '{counted}' (x{factor:.2f})")
    elif small and not large:
        factor = SMALL_WORD_FACTOR
        reasons.append(f"size words {_quoted(small)} (x{factor:.2f})")
    elif large and not small:
        factor = LARGE_WORD_FACTOR
        reasons.append(f"size words {_quoted(large)} (x{factor:.2f})")
    else:
        factor = 1.0
        if small:
            reasons.append(f"size words disagree ({_quoted(small)} vs {_quoted(large)}): typical size")
    if area and not typical_sqft:
        reasons.append(f"area {area:,} sq ft noted; this scope is not priced by area")

    measured = bool((area and typical_sqft) or count)
    says_smaller = bool(small) or (measured and factor < 1)
    says_larger = bool(large) or (measured and factor > 1)
    return _Sizing(
        factor=factor,
        reasons=tuple(reasons),
        measured=measured,
        worded=bool(small or large),
        conflicting=says_smaller and says_larger,
    )


def _normalize(text: str) -> str:
    """Lowercase words and digits separated by single spaces: "Tune-up!" -> "tune up"."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


@cache
def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(phrase)}s?\b")


def _has_phrase(phrase: str, text: str) -> bool:
    return _phrase_pattern(phrase).search(text) is not None


def _match_scope(rules: tuple[ScopeRule, ...], text: str) -> tuple[ScopeRule, str] | None:
    """The first rule, in the profile's priority order, with a phrase in the text, and that phrase."""
    for rule in rules:
        for phrase in rule.phrases:
            if _has_phrase(phrase, text):
                return rule, phrase
    return None


def _count_value(token: str) -> int:
    return _NUMBER_WORDS.get(token) or int(token)


def _whole_dollars(cents: float) -> int:
    """Round half up to a whole dollar, in cents."""
    return int(cents / 100 + 0.5) * 100


def _clamp(value: float, lowest: float, highest: float) -> float:
    return max(lowest, min(value, highest))


def _price_range(base: ScopeRule | TradeProfile) -> str:
    return f"${base.low_cents // 100:,}-${base.high_cents // 100:,}"


def _quoted(words: list[str]) -> str:
    return ", ".join(f"'{w}'" for w in words)
