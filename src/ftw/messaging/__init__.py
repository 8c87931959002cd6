"""Messaging: job threads between a homeowner and each bidder, and notifications."""
