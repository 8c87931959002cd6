"""The lifecycle mechanism on a small machine of its own: check, move, sources, the column."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pytest

from ftw.core.errors import Conflict, Forbidden
from ftw.core.lifecycle import ANYONE, Lifecycle, one_of


class Door(StrEnum):
    SHUT = "shut"
    OPEN = "open"
    LOCKED = "locked"


class Who(StrEnum):
    OWNER = "owner"
    GUEST = "guest"


DOOR = Lifecycle(
    "a door",
    Door,
    {
        (Door.SHUT, Door.OPEN): ANYONE,
        (Door.OPEN, Door.SHUT): ANYONE,
        (Door.SHUT, Door.LOCKED): {Who.OWNER},
    },
)


@dataclass
class Row:
    status: str


def test_a_declared_move_is_made() -> None:
    row = Row("shut")
    DOOR.move(row, Door.OPEN)
    assert row.status is Door.OPEN


def test_an_undeclared_move_is_a_conflict_and_changes_nothing() -> None:
    row = Row("open")
    with pytest.raises(Conflict, match="A door that is open cannot become locked") as refused:
        DOOR.move(row, Door.LOCKED, by=Who.OWNER)
    assert refused.value.status == 409
    assert row.status == "open"


def test_a_move_for_some_actors_refuses_the_others() -> None:
    row = Row("shut")
    with pytest.raises(Forbidden, match="A guest cannot make a door locked"):
        DOOR.move(row, Door.LOCKED, by=Who.GUEST)
    with pytest.raises(Forbidden):
        DOOR.move(row, Door.LOCKED)
    assert row.status == "shut"
    DOOR.move(row, Door.LOCKED, by=Who.OWNER)
    assert row.status is Door.LOCKED


def test_sources_are_the_where_of_a_set_based_move() -> None:
    assert DOOR.sources(Door.SHUT) == ["open"]
    assert sorted(DOOR.sources(Door.OPEN)) == ["shut"]
    assert DOOR.sources(Door.LOCKED) == ["shut"]


def test_the_check_constraint_admits_every_state() -> None:
    assert one_of("status", Door) == "status IN ('shut', 'open', 'locked')"
