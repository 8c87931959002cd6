"""Operators by application: an admin's approval before an operator may claim a county;
claims past the free ones are charged (payments of purpose ``claim``) and a claimed
county's monthly fee is recorded as due.

Operators who already run a territory are approved by this migration (they were vetted by
the claim they made before this rule).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("operator_approved_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("territories", sa.Column("monthly_due_at", sa.DateTime(timezone=True), nullable=True))
    op.drop_constraint(op.f("ck_payments_purpose"), "payments", type_="check")
    op.create_check_constraint("purpose", "payments", "purpose IN ('award', 'boost', 'invoice', 'claim')")
    op.execute(
        "UPDATE users SET operator_approved_at = now() "
        "WHERE id IN (SELECT operator_id FROM territories WHERE operator_id IS NOT NULL)"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_payments_purpose"), "payments", type_="check")
    op.create_check_constraint("purpose", "payments", "purpose IN ('award', 'boost', 'invoice')")
    op.drop_column("territories", "monthly_due_at")
    op.drop_column("users", "operator_approved_at")
