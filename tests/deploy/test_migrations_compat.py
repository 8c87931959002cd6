"""Every migration is backward compatible with the release before it: expand, then contract.

During a rolling or blue-green deploy the previous release keeps serving against the new
schema until its last pod stops. So a migration may add tables, nullable columns, columns
with a default, indexes; it may not take away or change what the previous release reads
and writes: no dropped or renamed table or column, no changed (narrowed) type, no column
that turns NOT NULL, no NOT NULL column without a default on an existing table. A step that
does is a *contract* step: it says so with a module-level ``CONTRACT = "..."`` naming the
release after which nothing uses the old shape, and ships only once that release is gone
(docs/deploy.md).

The check builds a throwaway database one revision at a time and compares the catalog
before and after each step, so it sees what the migration really did, raw SQL included.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import pytest
from alembic.script import Script, ScriptDirectory
from sqlalchemy.engine import make_url

from ftw.core import migrations
from ftw.core.db import sync_libpq_url
from tests.conftest import SERVER_URL


@dataclass(frozen=True)
class Column:
    type: str
    nullable: bool
    has_default: bool  # a default, an identity or a generated column: old INSERTs still work


Schema = dict[str, dict[str, Column]]

_VARCHAR = re.compile(r"^character varying(?:\((\d+)\))?$")
_COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> ''
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
  AND c.relname <> 'alembic_version'
"""


def _widened(old: str, new: str) -> bool:
    """varchar(n) -> varchar(m >= n) or unbounded varchar: every old value still fits."""
    before, after = _VARCHAR.match(old), _VARCHAR.match(new)
    if not (before and after) or before[1] is None:
        return False
    return after[1] is None or int(after[1]) >= int(before[1])


def violations(before: Schema, after: Schema) -> list[str]:
    """What a migration from ``before`` to ``after`` breaks for code written for ``before``."""
    found = []
    for table, columns in sorted(before.items()):
        if table not in after:
            found.append(f"table {table} dropped or renamed")
            continue
        now = after[table]
        for name, old in sorted(columns.items()):
            new = now.get(name)
            if new is None:
                found.append(f"column {table}.{name} dropped or renamed")
                continue
            if new.type != old.type and not _widened(old.type, new.type):
                found.append(f"column {table}.{name} changed type {old.type} -> {new.type}")
            if old.nullable and not new.nullable:
                found.append(f"column {table}.{name} became NOT NULL")
        for name in sorted(now.keys() - columns.keys()):
            if not now[name].nullable and not now[name].has_default:
                found.append(f"column {table}.{name} added NOT NULL without a default")
    return found


async def _schema(url: str) -> Schema:
    conn = await asyncpg.connect(sync_libpq_url(url))
    try:
        rows = await conn.fetch(_COLUMNS)
    finally:
        await conn.close()
    schema: Schema = {}
    for table, column, type_, nullable, has_default in rows:
        schema.setdefault(table, {})[column] = Column(type_, nullable, has_default)
    return schema


def _revisions() -> list[Script]:
    """Base to head; the chain must be linear (one head, no merges)."""
    directory = ScriptDirectory.from_config(migrations.alembic_config(""))
    assert len(directory.get_heads()) == 1, "more than one head: merge the branches first"
    ordered = list(reversed(list(directory.walk_revisions())))
    for previous, script in itertools.pairwise(ordered):
        assert script.down_revision == previous.revision, f"{script.revision} is a merge or a branch"
    return ordered


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(sync_libpq_url(SERVER_URL))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def scratch_url() -> Iterator[str]:
    name = f"ftw_expand_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_every_migration_keeps_the_previous_release_working(scratch_url: str) -> None:
    problems: list[str] = []
    previous: Schema | None = None
    for script in _revisions():
        migrations.upgrade(scratch_url, script.revision)
        schema = asyncio.run(_schema(scratch_url))
        contract = getattr(script.module, "CONTRACT", None)
        if previous is not None and not contract:
            problems += [f"{script.revision} ({script.path}): {v}" for v in violations(previous, schema)]
        previous = schema
    assert problems == [], "declare CONTRACT in the migration only once no running release needs it"


def test_a_contract_step_says_why_it_is_safe() -> None:
    for script in _revisions():
        contract = getattr(script.module, "CONTRACT", None)
        assert contract is None or (isinstance(contract, str) and contract.strip()), script.revision


_OLD: Schema = {
    "jobs": {
        "id": Column("bigint", nullable=False, has_default=True),
        "title": Column("character varying(120)", nullable=False, has_default=False),
        "notes": Column("text", nullable=True, has_default=False),
    }
}


def _changed(**columns: Column | None) -> Schema:
    jobs = {**_OLD["jobs"], **columns}
    return {"jobs": {k: v for k, v in jobs.items() if v is not None}}


def test_expanding_is_compatible() -> None:
    assert violations(_OLD, {**_OLD, "bids": {"id": Column("bigint", False, True)}}) == []
    assert violations(_OLD, _changed(budget=Column("integer", nullable=True, has_default=False))) == []
    assert violations(_OLD, _changed(urgent=Column("boolean", nullable=False, has_default=True))) == []
    assert violations(_OLD, _changed(title=Column("character varying(200)", False, False))) == []
    assert violations(_OLD, _changed(notes=Column("text", nullable=True, has_default=True))) == []


def test_contracting_is_caught() -> None:
    assert violations(_OLD, {}) == ["table jobs dropped or renamed"]
    assert violations(_OLD, _changed(notes=None, remarks=_OLD["jobs"]["notes"])) == [
        "column jobs.notes dropped or renamed"
    ]
    assert violations(_OLD, _changed(notes=Column("text", nullable=False, has_default=False))) == [
        "column jobs.notes became NOT NULL"
    ]
    assert violations(_OLD, _changed(title=Column("character varying(60)", False, False))) == [
        "column jobs.title changed type character varying(120) -> character varying(60)"
    ]
    assert violations(_OLD, _changed(region=Column("text", nullable=False, has_default=False))) == [
        "column jobs.region added NOT NULL without a default"
    ]
