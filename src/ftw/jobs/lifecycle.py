"""The job lifecycle, declared as data: which move each role may make."""

from __future__ import annotations

from ftw.accounts.models import Role
from ftw.core.errors import Conflict, Forbidden
from ftw.jobs.models import JobStatus

S = JobStatus

TRANSITIONS: dict[tuple[JobStatus, JobStatus], frozenset[Role]] = {
    (S.OPEN, S.AWARDED): frozenset({Role.HOMEOWNER}),  # by accepting a bid
    (S.AWARDED, S.IN_PROGRESS): frozenset({Role.CONTRACTOR}),
    (S.IN_PROGRESS, S.COMPLETED): frozenset({Role.HOMEOWNER}),
    (S.OPEN, S.CANCELLED): frozenset({Role.HOMEOWNER, Role.ADMIN}),
    # A paid job, refunded (bids/flows.refund): before the work starts by its homeowner,
    # once started only by an admin deciding a dispute.
    (S.AWARDED, S.CANCELLED): frozenset({Role.HOMEOWNER, Role.ADMIN}),
    (S.IN_PROGRESS, S.CANCELLED): frozenset({Role.ADMIN}),
}

EDITABLE = frozenset({S.OPEN})


def check(current: str, target: JobStatus, actor: Role) -> None:
    """Refuse a move the table does not allow: 409 for a wrong state, 403 for a wrong role."""
    roles = TRANSITIONS.get((JobStatus(current), target))
    if roles is None:
        raise Conflict(f"A job that is {current} cannot become {target.value}")
    if actor not in roles:
        raise Forbidden(f"A {actor.value} cannot make a job {target.value}")
