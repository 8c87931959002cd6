"""Load every US county (see src/ftw/territories/data/SOURCE.md).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ftw.territories.service import load_counties

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

territories = sa.table(
    "territories",
    sa.column("fips", sa.String),
    sa.column("state", sa.String),
    sa.column("name", sa.String),
    sa.column("population", sa.Integer),
)


def upgrade() -> None:
    rows = [{"fips": f, "state": s, "name": n, "population": p} for f, s, n, p in load_counties()]
    op.bulk_insert(territories, rows)


def downgrade() -> None:
    op.execute("DELETE FROM territories WHERE operator_id IS NULL")
