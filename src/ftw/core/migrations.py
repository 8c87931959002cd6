"""Programmatic Alembic: upgrade to head and ask whether a database is at head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parents[3]


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Compare only our tables: the task queue's belong to pgqueuer."""
    return not (type_ == "table" and name is not None and name.startswith("pgqueuer"))


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini"))).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


async def revision_of(url: str) -> str | None:
    """The revision of the database at ``url`` (None when it was never migrated)."""
    # Not through ftw.core.db: importing it creates the metrics, and `ftw serve` asks this in
    # the supervisor, whose metric files the workers' would then be reported next to.
    engine = create_async_engine(make_url(url).set(drivername="postgresql+asyncpg"), poolclass=NullPool)
    try:
        return await current_revision(engine)
    finally:
        await engine.dispose()


def known_revisions() -> set[str]:
    """Every revision this code ships."""
    scripts = ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini")))
    return {script.revision for script in scripts.walk_revisions()}


def schema_compatible(revision: str | None) -> bool:
    """Can this code serve a database at ``revision``?

    At head, yes. At a revision this code does not know, yes: a newer release has expanded
    the schema (migrations are expand-then-contract), and the old pods keep serving while
    the rollout proceeds. At an older revision it knows, no: it needs ``ftw migrate``.
    """
    if revision is None:
        return False
    return revision == head_revision() or revision not in known_revisions()
