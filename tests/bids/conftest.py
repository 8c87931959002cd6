"""The app with a charge-counting payments sandbox (see tests/support/market.py)."""

from tests.support.market import client, committed_sign_up, committing_client, integrations, sandbox

__all__ = ["client", "committed_sign_up", "committing_client", "integrations", "sandbox"]
