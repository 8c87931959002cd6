"""Admin view of the circuit breakers of the answering process, and a manual reset."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from ftw.accounts.auth import Admin
from ftw.core.breakers import CircuitBreaker
from ftw.core.deps import IntegrationsDep
from ftw.core.errors import NotFound
from ftw.core.metrics import BreakerState

router = APIRouter(prefix="/api/v1/admin", tags=["ops"])


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
