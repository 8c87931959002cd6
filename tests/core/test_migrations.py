"""Migrations build exactly the schema the models describe, and the launch indexes."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ftw.core import migrations
from ftw.models import metadata

LAUNCH_INDEXES = {
    "ix_jobs_browse_open",
    "ix_jobs_territory_status_recent",
    "ix_jobs_urgent_open",
    "ix_jobs_search",
    "ix_jobs_search_open",
    "ix_jobs_homeowner_recent",
    "ix_users_role_territory",
    "ix_users_available_contractors",
    "ix_users_referred_by",
    "uq_users_email",
    "uq_territories_operator",
}


async def test_database_is_at_head_and_matches_the_models(connection: AsyncConnection) -> None:
    diff = await connection.run_sync(
        lambda c: compare_metadata(
            MigrationContext.configure(c, opts={"include_name": migrations.include_name}), metadata
        )
    )
    assert diff == []
    revision = await connection.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
    assert revision == migrations.head_revision()


async def test_launch_indexes_exist_and_are_valid(connection: AsyncConnection) -> None:
    rows = await connection.execute(
        text(
            "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = ANY(:names)"
        ),
        {"names": list(LAUNCH_INDEXES)},
    )
    found: dict[str, bool] = {name: valid for name, valid in rows}
    assert set(found) == LAUNCH_INDEXES
    assert all(found.values())
