"""The offline estimator, judged by what a homeowner or contractor would notice."""

from __future__ import annotations

import pytest

from ftw.config import JobRules
from ftw.scoping.estimator import (
    STATE_COST_INDEX,
    Estimate,
    JobSize,
    JobTier,
    estimate,
    size_for,
    tier_for,
)
from ftw.scoping.trades import PROFILES, SERVICE_CALL_FLOOR_CENTS, Trade

RULES = JobRules()

DETAILED_FAUCET = (
    "The single-handle faucet at the kitchen sink has been dripping for a week, even when it is "
    "turned off hard. The house is about ten years old and the faucet is the original one. "
    "I think it needs a new cartridge or washers; the shut-off valves under the sink work fine."
)
WHOLE_ROOF = (
    "Need a full roof replacement on the whole house: the old shingles are curling and "
    "there are leaks in two spots over the garage."
)


def _estimate(trade: Trade, title: str, description: str, state: str | None = None) -> Estimate:
    return estimate(trade=trade, title=title, description=description, state=state, rules=RULES)


def test_leaking_faucet_is_a_small_quick_fix_cheaper_than_a_water_heater() -> None:
    faucet = _estimate(Trade.PLUMBING, "Leaking kitchen faucet", "The kitchen faucet drips all day long.")
    heater = _estimate(
        Trade.PLUMBING, "Water heater replacement", "Our 50 gallon water heater is 15 years old."
    )

    assert faucet.size is JobSize.SMALL
    assert faucet.tier is JobTier.QUICK_FIX
    assert faucet.price_high_cents < heater.price_low_cents
    assert "faucet cartridge" in faucet.materials
    assert "expansion tank" in heater.materials


def test_full_roof_replacement_on_a_whole_house_is_a_large_major_project() -> None:
    roof = _estimate(Trade.ROOFING, "Full roof replacement", WHOLE_ROOF, "OH")

    assert roof.size is JobSize.LARGE
    assert roof.tier is JobTier.MAJOR_PROJECT
    assert "architectural asphalt shingles" in roof.materials


def test_a_leaking_water_heater_is_scoped_as_a_replacement_not_a_faucet_repair() -> None:
    heater = _estimate(Trade.PLUMBING, "Water heater leaking", "Water is pooling under the water heater.")

    assert any("water heater replacement" in reason for reason in heater.rationale)
    assert heater.tier is JobTier.STANDARD


def test_the_same_job_costs_more_in_california_than_in_mississippi() -> None:
    california = _estimate(Trade.ROOFING, "Full roof replacement", WHOLE_ROOF, "CA")
    mississippi = _estimate(Trade.ROOFING, "Full roof replacement", WHOLE_ROOF, "MS")

    assert california.price_low_cents > mississippi.price_low_cents
    assert california.price_high_cents > mississippi.price_high_cents
    assert any("CA" in reason for reason in california.rationale)


def test_an_unknown_state_gets_national_prices_and_less_confidence() -> None:
    national = _estimate(
        Trade.ELECTRICAL, "Replace outlet", "Dead outlet in the hallway needs replacing.", "VA"
    )
    unknown = _estimate(
        Trade.ELECTRICAL, "Replace outlet", "Dead outlet in the hallway needs replacing.", "ZZ"
    )
    missing = _estimate(
        Trade.ELECTRICAL, "Replace outlet", "Dead outlet in the hallway needs replacing.", None
    )

    assert STATE_COST_INDEX["VA"] == 1.0
    assert (unknown.price_low_cents, unknown.price_high_cents) == (
        national.price_low_cents,
        national.price_high_cents,
    )
    assert unknown == missing
    assert unknown.confidence < national.confidence


def test_state_codes_are_read_regardless_of_case_and_spacing() -> None:
    upper = _estimate(Trade.PAINTING, "Paint bedroom", "Repaint one bedroom, walls only.", "NY")
    lower = _estimate(Trade.PAINTING, "Paint bedroom", "Repaint one bedroom, walls only.", " ny ")

    assert upper == lower


def test_more_evidence_gives_more_confidence_than_a_vague_request() -> None:
    vague = _estimate(Trade.PLUMBING, "Need a plumber", "Plumbing help needed at my house.")
    detailed = _estimate(Trade.PLUMBING, "Dripping kitchen faucet", DETAILED_FAUCET, "TX")

    assert vague.confidence == pytest.approx(0.35)
    assert detailed.confidence > vague.confidence + 0.3
    assert detailed.confidence <= 0.9


def test_confidence_never_exceeds_the_offline_cap() -> None:
    job = _estimate(
        Trade.FLOORING,
        "Hardwood floors, 600 sq ft",
        "Install oak hardwood in the living room and hallway, about 600 sq ft in total. " * 4,
        "CO",
    )

    assert job.confidence == 0.9


def test_contradictory_size_words_lower_confidence() -> None:
    consistent = _estimate(Trade.HANDYMAN, "Drywall patch", "One small hole in the drywall by the door.")
    contradictory = _estimate(
        Trade.HANDYMAN, "Drywall patch", "Small holes in the drywall of the entire house."
    )

    assert contradictory.confidence < consistent.confidence
    assert any("conflicting" in reason for reason in contradictory.rationale)


def test_size_words_scale_the_price() -> None:
    small = _estimate(Trade.PAINTING, "Paint a room", "Paint a small room, walls and ceiling.")
    typical = _estimate(Trade.PAINTING, "Paint a room", "Paint a room, walls and ceiling.")
    large = _estimate(Trade.PAINTING, "Paint a room", "Paint a large room, walls and ceiling.")

    assert small.price_high_cents < typical.price_high_cents < large.price_high_cents
    assert small.confidence > typical.confidence


def test_square_footage_scales_area_priced_work() -> None:
    little = _estimate(Trade.FLOORING, "New carpet", "Carpet for a 150 square feet den.")
    big = _estimate(Trade.FLOORING, "New carpet", "Carpet for 1,200 sq ft upstairs.")
    same_big = _estimate(Trade.FLOORING, "New carpet", "Carpet for 1200 sqft upstairs.")

    assert little.price_high_cents < big.price_high_cents
    assert (big.price_low_cents, big.price_high_cents) == (
        same_big.price_low_cents,
        same_big.price_high_cents,
    )
    assert any("1,200 sq ft" in reason for reason in big.rationale)


def test_a_measurement_outweighs_a_contradicting_size_word() -> None:
    measured = _estimate(Trade.FLOORING, "New carpet", "Carpet for 1,200 sq ft upstairs.")
    contradicted = _estimate(Trade.FLOORING, "New carpet", "Small job: carpet for 1,200 sq ft upstairs.")

    assert contradicted.price_high_cents == measured.price_high_cents
    assert contradicted.confidence < measured.confidence
    assert any("conflicting" in reason for reason in contradicted.rationale)


def test_square_footage_does_not_scale_work_priced_per_job() -> None:
    with_area = _estimate(Trade.PLUMBING, "Leaking faucet", "Leaking faucet in our 2,400 sq ft house.")
    without = _estimate(Trade.PLUMBING, "Leaking faucet", "Leaking faucet in our house.")

    assert (with_area.price_low_cents, with_area.price_high_cents) == (
        without.price_low_cents,
        without.price_high_cents,
    )


def test_counts_of_rooms_scale_the_price_but_house_descriptions_do_not() -> None:
    one_room = _estimate(Trade.PAINTING, "Paint bedroom", "Paint the bedroom walls in our house.")
    three_rooms = _estimate(Trade.PAINTING, "Paint bedrooms", "Paint 3 rooms in our house.")
    house_described = _estimate(
        Trade.PAINTING, "Paint bedroom", "Paint the bedroom walls in our 3 bedroom house."
    )

    assert three_rooms.price_high_cents > 2 * one_room.price_high_cents
    assert house_described.price_high_cents == one_room.price_high_cents
    assert any("'3 rooms'" in reason for reason in three_rooms.rationale)


def test_two_bathrooms_cost_more_than_one() -> None:
    one = _estimate(Trade.REMODELING, "Bathroom remodel", "Remodel the bathroom: new tile and vanity.")
    two = _estimate(Trade.REMODELING, "Bathroom remodel", "Remodel 2 bathrooms: new tile and vanity.")

    assert two.price_low_cents > one.price_low_cents


def test_keywords_match_whole_words_ignoring_case_and_punctuation() -> None:
    tune_up = _estimate(Trade.HVAC, "TUNE-UP!!", "Yearly tune up for the furnace, please.")
    unrelated = _estimate(Trade.PLUMBING, "Odd noise", "A bleak gurgling sound from the basement pipes.")

    assert any("tune-up" in reason for reason in tune_up.rationale)
    assert any("no scope keywords" in reason for reason in unrelated.rationale)


def test_the_same_input_gives_the_same_estimate() -> None:
    first = _estimate(Trade.ROOFING, "Full roof replacement", WHOLE_ROOF, "CA")
    second = _estimate(Trade.ROOFING, "Full roof replacement", WHOLE_ROOF, "CA")

    assert first == second


def test_size_and_tier_follow_the_configured_thresholds() -> None:
    stricter = JobRules(size_small_max_cents=10_000, tier_quick_fix_max_cents=10_000)

    def faucet(rules: JobRules) -> Estimate:
        return estimate(
            trade=Trade.PLUMBING,
            title="Leaking faucet",
            description="The faucet drips.",
            state=None,
            rules=rules,
        )

    assert (faucet(RULES).size, faucet(RULES).tier) == (JobSize.SMALL, JobTier.QUICK_FIX)
    assert (faucet(stricter).size, faucet(stricter).tier) == (JobSize.MEDIUM, JobTier.STANDARD)


@pytest.mark.parametrize(
    ("high_cents", "expected"),
    [
        (RULES.size_small_max_cents, JobSize.SMALL),
        (RULES.size_small_max_cents + 1, JobSize.MEDIUM),
        (RULES.size_medium_max_cents, JobSize.MEDIUM),
        (RULES.size_medium_max_cents + 1, JobSize.LARGE),
    ],
)
def test_size_boundaries(high_cents: int, expected: JobSize) -> None:
    assert size_for(high_cents, RULES) is expected


@pytest.mark.parametrize(
    ("high_cents", "expected"),
    [
        (RULES.tier_quick_fix_max_cents, JobTier.QUICK_FIX),
        (RULES.tier_quick_fix_max_cents + 1, JobTier.STANDARD),
        (RULES.tier_standard_max_cents, JobTier.STANDARD),
        (RULES.tier_standard_max_cents + 1, JobTier.MAJOR_PROJECT),
    ],
)
def test_tier_boundaries(high_cents: int, expected: JobTier) -> None:
    assert tier_for(high_cents, RULES) is expected


def test_the_documented_thresholds_are_the_defaults() -> None:
    assert size_for(30_000, RULES) is JobSize.SMALL
    assert size_for(150_001, RULES) is JobSize.LARGE
    assert tier_for(50_000, RULES) is JobTier.QUICK_FIX
    assert tier_for(500_001, RULES) is JobTier.MAJOR_PROJECT


def test_every_state_and_dc_has_a_cost_index() -> None:
    assert len(STATE_COST_INDEX) == 51
    assert all(0.8 <= index <= 1.4 for index in STATE_COST_INDEX.values())
    assert STATE_COST_INDEX["CA"] > 1.2 > STATE_COST_INDEX["TX"] > STATE_COST_INDEX["MS"]


def test_every_trade_has_a_sane_profile() -> None:
    assert set(PROFILES) == set(Trade)
    for trade, profile in PROFILES.items():
        assert profile.trade is trade
        assert SERVICE_CALL_FLOOR_CENTS <= profile.low_cents < profile.high_cents
        assert profile.materials
        assert profile.rules
        for rule in profile.rules:
            assert SERVICE_CALL_FLOOR_CENTS <= rule.low_cents < rule.high_cents, rule.scope
            assert rule.phrases
            assert rule.materials
            assert all(phrase == phrase.lower().strip() for phrase in rule.phrases)


@pytest.mark.parametrize("trade", list(Trade))
@pytest.mark.parametrize(
    ("title", "description", "state"),
    [
        ("Help needed", "Something needs looking at, please.", None),
        ("Quick small job", "One tiny minor fix, 20 sq ft, nothing more.", "MS"),
        ("Entire house", "Complete job on the entire house, 3,000 sq ft, 8 rooms, multiple floors.", "HI"),
        ("Mixed signals", "A small quick job across the whole house.", "ZZ"),
    ],
)
def test_every_trade_gives_a_whole_dollar_range_with_consistent_size_and_tier(
    trade: Trade, title: str, description: str, state: str | None
) -> None:
    job = _estimate(trade, title, description, state)

    assert SERVICE_CALL_FLOOR_CENTS <= job.price_low_cents < job.price_high_cents
    assert job.price_low_cents % 100 == 0
    assert job.price_high_cents % 100 == 0
    assert job.size is size_for(job.price_high_cents, RULES)
    assert job.tier is tier_for(job.price_high_cents, RULES)
    assert 0.0 <= job.confidence <= 0.9
    assert job.confidence == round(job.confidence, 2)
    assert job.materials
    assert job.rationale
    assert (job.source, job.degraded) == ("offline", False)
