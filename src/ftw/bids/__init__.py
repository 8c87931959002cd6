"""Bids: contractors' offers on open jobs, blind to each other."""
