"""Rurality and claim price of a county, from its population and the territory policy."""

from __future__ import annotations

from ftw.config import RuralityBand, TerritoryPolicy


def band_for(population: int, policy: TerritoryPolicy) -> RuralityBand:
    """The first band whose upper bound the population stays under (rural < 50k, ...)."""
    for band in policy.bands:
        if band.max_population is None or population < band.max_population:
            return band
    return policy.bands[-1]
