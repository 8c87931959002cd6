"""Vendor services behind Protocols: a real adapter and a local sandbox each."""
