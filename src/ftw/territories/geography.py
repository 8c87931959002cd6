"""ZIP code to county, from the `zipcodes` and `addfips` packages (no network)."""

from __future__ import annotations

from functools import lru_cache

import addfips
import zipcodes

_fips = addfips.AddFIPS()
# Alaska split Valdez-Cordova in 2019; the shipped county list keeps the 2019 unit.
_SUCCESSOR = {"02063": "02261", "02066": "02261"}


@lru_cache(maxsize=65_536)
def county_for_zip(zip_code: str) -> str | None:
    """The five-digit FIPS of the county a ZIP code lies in, or None if unknown."""
    try:
        matches = zipcodes.matching(zip_code)  # type: ignore[no-untyped-call]
    except (TypeError, ValueError):
        return None
    for match in matches:
        county, state = match.get("county"), match.get("state")
        if county and state:
            fips = _fips.get_county_fips(county, state=state)
            if fips:
                return _SUCCESSOR.get(fips, str(fips))
    return None
