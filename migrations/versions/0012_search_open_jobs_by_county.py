"""Search of open jobs by county from one index: GIN on (territory_fips, search) of open jobs.

The launch mix searches a county's open jobs. With the county's btree index and the GIN index
of every job's words, PostgreSQL intersected the county's open jobs with every job (of any
status, in any county) that has the word: 40,000 entries read to keep 135 (10 ms for "paint"
in Los Angeles on the 400,000-user seed). One GIN index on both columns (``btree_gin`` lets
GIN hold the county) finds the 135 directly (1 ms), and still serves a search without a county.

PostgreSQL's contrib holds ``btree_gin`` (a trusted extension since PostgreSQL 13: the
database's owner may create it). The embedded server of the demo (the ``pgserver`` wheel)
ships no contrib; there the index stays on the words alone, as before.

Without ``fastupdate``: GIN otherwise queues new entries in a pending list that every search
scans until a vacuum merges it. After one `ftw bench` run (its job posts) the list held 2,759
entries and a county search cost PostgreSQL 1.0 ms instead of 0.25. Jobs are posted a few
times a minute and searched many times a second: the insert pays for the index, not the reads.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status = 'open'")


def _btree_gin_available() -> bool:
    found = op.get_bind().scalar(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'btree_gin'"))
    return found is not None


def upgrade() -> None:
    op.drop_index("ix_jobs_search_open", table_name="jobs", postgresql_where=OPEN)
    columns = ["search"]
    if _btree_gin_available():
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
        columns = ["territory_fips", "search"]
    op.create_index(
        "ix_jobs_search_open",
        "jobs",
        columns,
        postgresql_using="gin",
        postgresql_where=OPEN,
        postgresql_with={"fastupdate": "off"},
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_search_open", table_name="jobs", postgresql_where=OPEN)
    op.create_index("ix_jobs_search_open", "jobs", ["search"], postgresql_using="gin", postgresql_where=OPEN)
