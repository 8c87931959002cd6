"""Indexes for the analytics roll-up and the CRM's idle-customer sweep.

The daily roll-up reads a day of jobs, bids and fee ledger entries by time; the
`crm.mark_inactive` task finds customers untouched for months.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_jobs_created_at", "jobs", ["created_at"])
    op.create_index(
        "ix_jobs_completed_at", "jobs", ["updated_at"], postgresql_where=sa.text("status = 'completed'")
    )
    op.create_index("ix_bids_created_at", "bids", ["created_at"])
    op.create_index(
        "ix_ledger_fees_recent",
        "ledger_entries",
        ["created_at"],
        postgresql_where=sa.text("account IN ('platform', 'operator')"),
    )
    op.create_index(
        "ix_crm_customers_idle",
        "crm_customers",
        ["last_interaction_at"],
        postgresql_where=sa.text("stage IN ('lead', 'completed', 'advocate')"),
    )


def downgrade() -> None:
    op.drop_index("ix_crm_customers_idle", table_name="crm_customers")
    op.drop_index("ix_ledger_fees_recent", table_name="ledger_entries")
    op.drop_index("ix_bids_created_at", table_name="bids")
    op.drop_index("ix_jobs_completed_at", table_name="jobs")
    op.drop_index("ix_jobs_created_at", table_name="jobs")
