"""ZIP code to county: a table derived from the `zipcodes` and `addfips` packages (no network).

Asking `zipcodes` for one ZIP scans all 42,789 of them, 20 ms of CPU on the event loop for
every ZIP a process had not seen (a job posted, an account signed up). The answers for every
ZIP are derived once, by ``derived_table``, into ``data/zip_counties.csv`` (41,763 rows,
regenerated with ``python -m ftw.territories.geography > src/ftw/territories/data/zip_counties.csv``);
a process reads that file the first time it needs it, in about 20 ms.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterator
from functools import cache
from importlib import resources

import addfips
import zipcodes

# Alaska split Valdez-Cordova in 2019; the shipped county list keeps the 2019 unit.
_SUCCESSOR = {"02063": "02261", "02066": "02261"}
ZIP = re.compile(r"(\d{5})(?:-\d{4})?")  # five digits, or ZIP+4


def county_for_zip(zip_code: str) -> str | None:
    """The five-digit FIPS of the county a ZIP code (or ZIP+4) lies in, or None if unknown."""
    match = ZIP.fullmatch(zip_code)
    return _table().get(match.group(1)) if match else None


@cache
def _table() -> dict[str, str]:
    source = resources.files("ftw.territories") / "data" / "zip_counties.csv"
    return {zip_code: fips for zip_code, fips in csv.reader(source.read_text().splitlines())}


def derived_table() -> Iterator[tuple[str, str]]:
    """Every ZIP the packages place in a county, with that county's FIPS, in ZIP order."""
    fips_of = addfips.AddFIPS()
    counties: dict[tuple[str, str], str | None] = {}
    for entry in sorted(zipcodes.list_all(), key=lambda entry: entry["zip_code"]):  # type: ignore[no-untyped-call]
        county, state = entry.get("county"), entry.get("state")
        if not (county and state):
            continue
        if (county, state) not in counties:
            counties[county, state] = fips_of.get_county_fips(county, state=state)
        fips = counties[county, state]
        if fips:
            yield entry["zip_code"], _SUCCESSOR.get(fips, str(fips))


if __name__ == "__main__":
    csv.writer(sys.stdout, lineterminator="\n").writerows(derived_table())
