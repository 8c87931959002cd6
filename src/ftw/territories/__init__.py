"""Territories: US counties that operators claim and run."""
