"""Every lifecycle's table as declared, and each status column's CHECK in the database."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ftw.accounts.models import Role
from ftw.bids.models import BID, Bid
from ftw.billing.models import INVOICE, PAYMENT, PAYOUT, Invoice, InvoiceActor, Payment, Payout
from ftw.core.errors import Conflict, Forbidden
from ftw.core.lifecycle import Lifecycle
from ftw.crm.models import FOLLOW_UP, FollowUp
from ftw.jobs.models import JOB, Job
from ftw.messaging.models import DELIVERY, Delivery

MACHINES: dict[str, tuple[Lifecycle[Any], type[Any], type[StrEnum] | None]] = {
    "job": (JOB, Job, Role),
    "bid": (BID, Bid, Role),
    "payment": (PAYMENT, Payment, None),
    "payout": (PAYOUT, Payout, None),
    "invoice": (INVOICE, Invoice, InvoiceActor),
    "delivery": (DELIVERY, Delivery, None),
    "follow-up": (FOLLOW_UP, FollowUp, None),
}


@dataclass
class Row:
    status: str


def _every_move() -> list[Any]:
    return [
        pytest.param(machine, actors, current, target, id=f"{name}:{current}->{target}")
        for name, (machine, _, actors) in MACHINES.items()
        for current, target in itertools.product(cast("type[StrEnum]", machine.states), repeat=2)
    ]


@pytest.mark.parametrize(("machine", "actors", "current", "target"), _every_move())
def test_each_move_is_made_as_declared_and_refused_otherwise(
    machine: Lifecycle[Any], actors: type[StrEnum] | None, current: StrEnum, target: StrEnum
) -> None:
    allowed = machine.moves.get((current, target))
    for actor in [None, *(actors or [])]:
        row = Row(current.value)
        if allowed is None:
            with pytest.raises(Conflict):  # 409, and the row is as it was
                machine.move(row, target, by=actor)
            assert row.status == current.value
        elif allowed and actor not in allowed:
            with pytest.raises(Forbidden):
                machine.move(row, target, by=actor)
            assert row.status == current.value
        else:
            machine.move(row, target, by=actor)
            assert row.status is target


@pytest.mark.parametrize("name", list(MACHINES))
async def test_the_database_admits_exactly_the_states_of_each_lifecycle(
    connection: AsyncConnection, name: str
) -> None:
    machine, model, _ = MACHINES[name]
    table = model.__table__.name
    definition = await connection.scalar(
        text(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = CAST(:table AS regclass) AND conname = :name"
        ),
        {"table": table, "name": f"ck_{table}_status"},
    )
    assert definition is not None, f"{table} has no status CHECK"
    assert set(re.findall(r"'([^']+)'", definition)) == {s.value for s in machine.states}
