"""Admin controls: the circuit breakers of the answering process (and a manual reset), and
the launch switches (features, maintenance mode, the incident notice)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel

from ftw.accounts.auth import Admin
from ftw.core import switches
from ftw.core.breakers import CircuitBreaker
from ftw.core.deps import OwnReadSessionDep, SessionDep
from ftw.core.errors import NotFound
from ftw.core.metrics import BreakerState
from ftw.core.routing import LeanRoute
from ftw.integrations.deps import IntegrationsDep

router = APIRouter(prefix="/api/v1/admin", tags=["ops"], route_class=LeanRoute)


class BreakerOut(BaseModel):
    name: str
    state: BreakerState
    consecutive_failures: int
    failures: int
    successes: int
    rejected: int
    failure_threshold: int
    call_timeout_s: float
    reset_timeout_s: float
    last_failure: str | None
    last_failure_at: datetime | None
    opened_at: datetime | None

    @classmethod
    def of(cls, breaker: CircuitBreaker) -> BreakerOut:
        return cls(
            name=breaker.name,
            state=breaker.state,
            consecutive_failures=breaker.consecutive_failures,
            failures=breaker.failures,
            successes=breaker.successes,
            rejected=breaker.rejected,
            failure_threshold=breaker.policy.failures,
            call_timeout_s=breaker.policy.call_timeout_s,
            reset_timeout_s=breaker.policy.reset_timeout_s,
            last_failure=breaker.last_failure,
            last_failure_at=breaker.last_failure_at,
            opened_at=breaker.opened_at,
        )


@router.get("/breakers")
async def list_breakers(integrations: IntegrationsDep, _: Admin) -> list[BreakerOut]:
    """Every vendor's breaker in this process (state is per process: see docs/decisions.md)."""
    return [BreakerOut.of(breaker) for breaker in integrations.breakers.values()]


@router.post("/breakers/{name}/reset")
async def reset_breaker(name: str, integrations: IntegrationsDep, _: Admin) -> BreakerOut:
    """Close one breaker now, e.g. once the vendor says the incident is over."""
    breaker = integrations.breakers.get(name)
    if breaker is None:
        raise NotFound(f"No breaker named {name}")
    breaker.reset()
    return BreakerOut.of(breaker)


class SwitchOut(BaseModel):
    name: switches.Name
    on: bool
    message: str | None
    changed_at: datetime | None
    changed_by: int | None

    @classmethod
    def of(cls, state: switches.State) -> SwitchOut:
        return cls(
            name=state.name,
            on=state.on,
            message=state.message,
            changed_at=state.changed_at,
            changed_by=state.changed_by,
        )


@router.get("/switches")
async def list_switches(session: OwnReadSessionDep, _: Admin) -> list[SwitchOut]:
    """Every switch as stored (features are on, maintenance and incident off, until changed)."""
    return [SwitchOut.of(state) for state in await switches.stored(session)]


@router.put("/switches/{name}")
async def set_switch(
    name: switches.Name, data: switches.SwitchIn, request: Request, session: SessionDep, principal: Admin
) -> SwitchOut:
    """Turn a feature, maintenance mode or the incident notice on or off (audit-logged).
    This instance obeys at once, every other within ``switches.ttl_s``."""
    state = await switches.change(
        session, name=name, on=data.on, message=data.message, actor_id=principal.user_id, via="api"
    )
    switches.board(request).expire()
    return SwitchOut.of(state)
