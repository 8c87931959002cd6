"""Launch switches: risky features an admin turns off in an incident, maintenance mode and
the incident notice, stored in PostgreSQL and read through a cache in each process.

Every feature is on until an admin turns it off; maintenance and the incident notice are
off until turned on. A table row exists only for a switch that was ever changed. A process
reads the table at most once per ``ttl_s``, and only when a write or a switched feature asks:
reads never look, so the hot endpoints pay nothing. A change reaches the answering instance
at once and every other one within the TTL.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from fastapi import Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, ForeignKey, String, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from ftw.core import audit
from ftw.core.db import Base, Database
from ftw.core.errors import DomainError
from ftw.core.replicas import ReadKind


class Name(StrEnum):
    SIGNUPS = "signups"
    JOB_POSTING = "job_posting"
    PHOTO_UPLOADS = "photo_uploads"
    LLM_REFINEMENT = "llm_refinement"
    SMS = "sms"
    EMAIL = "email"
    INSTANT_PAYOUTS = "instant_payouts"
    BOOSTS = "boosts"
    TERRITORY_CLAIMS = "territory_claims"
    MAINTENANCE = "maintenance"
    INCIDENT = "incident"


# What a user is told is paused when a feature is off (and no message was set).
FEATURES: dict[Name, str] = {
    Name.SIGNUPS: "New sign-ups are",
    Name.JOB_POSTING: "Posting new jobs is",
    Name.PHOTO_UPLOADS: "Photo uploads are",
    Name.LLM_REFINEMENT: "Refined estimates are",
    Name.SMS: "Text messages are",
    Name.EMAIL: "E-mails are",
    Name.INSTANT_PAYOUTS: "Instant payouts are",
    Name.BOOSTS: "Boosting bids is",
    Name.TERRITORY_CLAIMS: "Territory claims are",
}
NOTICES = (Name.MAINTENANCE, Name.INCIDENT)  # off until turned on


class Switch(Base):
    __tablename__ = "switches"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    enabled: Mapped[bool]
    message: Mapped[str | None] = mapped_column(String(500))
    changed_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # NULL when changed from the command line (`ftw switch`) or after the admin is deleted.
    changed_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))


@dataclass(frozen=True)
class State:
    name: Name
    on: bool
    message: str | None = None
    changed_at: datetime | None = None
    changed_by: int | None = None

    @classmethod
    def default(cls, name: Name) -> State:
        return cls(name, on=name not in NOTICES)

    @classmethod
    def of(cls, row: Switch) -> State:
        return cls(Name(row.name), row.enabled, row.message, row.changed_at, row.changed_by)


class SwitchIn(BaseModel):
    """An admin's change of one switch (the API's body and the admin page's form)."""

    on: bool
    # Shown to users: the 503's detail for a feature, the banner for maintenance and incident.
    message: str | None = Field(default=None, min_length=1, max_length=500)


class SwitchedOff(DomainError):
    """A feature an admin turned off: 503, with a message a person can read."""

    status = 503
    title = "Temporarily unavailable"


class InMaintenance(DomainError):
    status = 503
    title = "Down for maintenance"


class Board:
    """This process's copy of the switches, refreshed from the table when older than ``ttl_s``."""

    def __init__(self, *, ttl_s: float, retry_after_s: int) -> None:
        self.ttl_s = ttl_s
        self.retry_after_s = retry_after_s
        self._states: dict[Name, State] = {}
        self._loaded_at = float("-inf")

    async def refresh(self, db: Database) -> None:
        """Read the table if this copy is older than the TTL (one statement, on the primary)."""
        if time.monotonic() - self._loaded_at < self.ttl_s:
            return
        async with db.read_session(ReadKind.OWN) as session:
            rows = (await session.scalars(select(Switch))).all()
        self._states = {state.name: state for state in map(State.of, rows) if state.name in Name}
        self._loaded_at = time.monotonic()

    def expire(self) -> None:
        """Forget this copy: the next check reads the table (after an admin's change)."""
        self._loaded_at = float("-inf")

    def state(self, name: Name) -> State:
        return self._states.get(name) or State.default(name)

    def states(self) -> list[State]:
        return [self.state(name) for name in Name]

    async def is_on(self, db: Database, name: Name) -> bool:
        await self.refresh(db)
        return self.state(name).on

    async def require(self, db: Database, name: Name) -> None:
        """Raise ``SwitchedOff`` when the feature ``name`` is off."""
        await self.refresh(db)
        state = self.state(name)
        if not state.on:
            paused = f"{FEATURES[name]} paused for now; please try again later."
            raise SwitchedOff(state.message or paused, retry_after_s=self.retry_after_s)

    async def refuse_writes(self, db: Database) -> None:
        """Raise ``InMaintenance`` while maintenance mode is on."""
        await self.refresh(db)
        state = self.state(Name.MAINTENANCE)
        if state.on:
            detail = state.message or "FairTradeWorker is down for maintenance; browsing still works."
            raise InMaintenance(detail, retry_after_s=self.retry_after_s)

    async def banner(self, db: Database) -> str | None:
        """The message every page shows: maintenance first, else the incident notice."""
        await self.refresh(db)
        for name in NOTICES:
            state = self.state(name)
            if state.on:
                return state.message or "We are working on a problem; some features may be slow."
        return None


def board(request: Request) -> Board:
    found: Board = request.app.state.switches
    return found


async def banner(request: Request) -> str | None:
    """The banner every page shows (maintenance, else the incident notice), or None: for the
    web app's page layout; a statement at most once per TTL."""
    return await board(request).banner(request.app.state.db)


async def is_on(request: Request, name: Name) -> bool:
    on: bool = await board(request).is_on(request.app.state.db, name)
    return on


async def require(request: Request, name: Name) -> None:
    """503 problem+json while the feature ``name`` is off."""
    await board(request).require(request.app.state.db, name)


def required(name: Name) -> Any:
    """A route dependency: 503 problem+json while the feature ``name`` is off."""

    async def check(request: Request) -> None:
        await require(request, name)

    check.__name__ = f"switch_{name.value}"
    return Depends(check)


async def stored(session: AsyncSession) -> list[State]:
    """Every switch as the table holds it (features on, notices off, until changed)."""
    rows = {row.name: State.of(row) for row in await session.scalars(select(Switch))}
    return [rows.get(name) or State.default(name) for name in Name]


async def change(
    session: AsyncSession, *, name: Name, on: bool, message: str | None, actor_id: int | None, via: str
) -> State:
    """Set a switch, and audit-log the change with what it was before, in one transaction."""
    before = await session.get(Switch, name.value, with_for_update=True)
    was = State.of(before) if before is not None else State.default(name)
    values = {"enabled": on, "message": message, "changed_at": func.now(), "changed_by": actor_id}
    upsert = insert(Switch).values(name=name.value, **values)
    row = await session.scalar(
        upsert.on_conflict_do_update(index_elements=[Switch.name], set_=values)
        .returning(Switch)
        .execution_options(populate_existing=True)
    )
    assert row is not None
    await audit.record(
        session,
        actor_id=actor_id,
        action="admin.switch_changed",
        target=f"switch:{name.value}",
        data={"on": on, "message": message, "was_on": was.on, "was_message": was.message, "via": via},
    )
    return State.of(row)
