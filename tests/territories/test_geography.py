"""ZIP code to county: the shipped table, and what a job's or an account's ZIP resolves to."""

from __future__ import annotations

import pytest

from ftw.territories import geography
from ftw.territories.geography import county_for_zip


def test_the_shipped_table_is_what_the_packages_say_today() -> None:
    """Fails when `zipcodes` or `addfips` is upgraded with other answers: regenerate the
    file (the module's docstring says how)."""
    assert geography._table() == dict(geography.derived_table())


@pytest.mark.parametrize(
    ("zip_code", "fips"),
    [
        ("10001", "36061"),  # New York County, NY
        ("90012", "06037"),  # Los Angeles County, CA
        ("60601", "17031"),  # Cook County, IL
        ("99566", "02261"),  # Chitina, AK: the 2019 Valdez-Cordova unit, as the county list has it
        ("10001-1234", "36061"),  # ZIP+4
    ],
)
def test_a_zip_resolves_to_its_county(zip_code: str, fips: str) -> None:
    assert county_for_zip(zip_code) == fips


@pytest.mark.parametrize("zip_code", ["00000", "1000", "100011", "abcde", "10001-12", " 10001", ""])
def test_an_unknown_or_malformed_zip_has_no_county(zip_code: str) -> None:
    assert county_for_zip(zip_code) is None
