"""The app with a charge-counting payments sandbox (see tests/billing/support.py)."""

from tests.billing.support import client, committed_sign_up, committing_client, integrations, sandbox

__all__ = ["client", "committed_sign_up", "committing_client", "integrations", "sandbox"]
