"""Lifecycles declared as data, after Sharetribe's transaction processes.

A ``Lifecycle`` is a table of moves (from-state, to-state) and, where it matters, the
actors who may make each one; ``move`` is the one way a status changes: it checks the
move against the table (409 for a wrong state, 403 for a wrong actor) and applies it.
A set-based move (an UPDATE of many rows) takes its WHERE from ``sources``. The status
column is the enum in Python (``status_type``) and text plus a CHECK in the database
(``one_of``), both from the same enum.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Enum

from ftw.core.errors import Conflict, Forbidden

# A move anyone may make: the system's own (a task, a provider's answer), or one whose
# caller was checked by the service before it came to the move.
ANYONE: frozenset[StrEnum] = frozenset()


S = TypeVar("S", bound=StrEnum)


class Stateful(Protocol):
    status: Any


@dataclass(frozen=True)
class Lifecycle(Generic[S]):
    noun: str  # "a job", "an invoice": how refusals name the thing
    states: type[S]
    moves: Mapping[tuple[S, S], Collection[StrEnum]]

    def check(self, current: str, target: S, by: StrEnum | None = None) -> None:
        """Refuse a move the table does not declare (409), or one ``by`` may not make (403)."""
        actors = self.moves.get((self.states(current), target))
        if actors is None:
            raise Conflict(f"{self.noun.capitalize()} that is {current} cannot become {target.value}")
        if actors and by not in actors:
            who = f"a {by.value}" if by is not None else "this caller"
            raise Forbidden(f"{who.capitalize()} cannot make {self.noun} {target.value}")

    def move(self, row: Stateful, target: S, by: StrEnum | None = None) -> None:
        """Check the move from the row's status to ``target``, then make it."""
        self.check(row.status, target, by)
        row.status = target

    def sources(self, target: S) -> list[str]:
        """The states a move to ``target`` may start from: the WHERE of a set-based move."""
        return [current.value for current, to in self.moves if to is target]


def one_of(column: str, states: type[StrEnum]) -> str:
    """The CHECK that keeps a text column within an enum's values."""
    return f"{column} IN ({', '.join(repr(s.value) for s in states)})"


def status_type(states: type[StrEnum], length: int) -> Enum:
    """A status column's type: VARCHAR(length) in the database, the enum's members in Python.

    No CHECK of its own: the table declares it with ``one_of``, under the name it has.
    """
    return Enum(
        states,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )
