"""Payouts: each earner's connected payout account (Stripe Connect), and an ``unknown``
status for a provider call that timed out, resolved by asking.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("payout_account", sa.String(64), nullable=True))
    op.drop_constraint(op.f("ck_payouts_status"), "payouts", type_="check")
    op.create_check_constraint("status", "payouts", "status IN ('pending', 'paid', 'failed', 'unknown')")


def downgrade() -> None:
    op.drop_column("users", "payout_account")
    op.drop_constraint(op.f("ck_payouts_status"), "payouts", type_="check")
    op.create_check_constraint("status", "payouts", "status IN ('pending', 'paid', 'failed')")
