"""HTTP layer of analytics: read-only figures on their own session."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from ftw.accounts.auth import Admin, Contractor, Operator, SignedIn
from ftw.analytics import service
from ftw.analytics.schemas import ContractorFigures, JobFigures, PlatformFigures, TerritoryFigures
from ftw.core.deps import AnalyticsSession
from ftw.core.routing import LeanRoute
from ftw.core.validation import Id

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"], route_class=LeanRoute)


Days = Annotated[int, Query(ge=1, le=366, description="The window: this many days up to today (UTC)")]


@router.get("/jobs/{job_id}")
async def job(job_id: Id, session: AnalyticsSession, principal: SignedIn) -> JobFigures:
    """Views, bids and time to first bid of a job (its homeowner, its territory's operator)."""
    return await service.job_figures(session=session, principal=principal, job_id=job_id)


@router.get("/contractor")
async def contractor(session: AnalyticsSession, principal: Contractor, days: Days = 30) -> ContractorFigures:
    """The calling contractor's bids, win rate, response time, revenue and rating."""
    return await service.contractor_figures(session=session, contractor_id=principal.user_id, days=days)


@router.get("/territory/{fips}")
async def territory(
    fips: Annotated[str, Path(pattern=r"^\d{5}$")],
    session: AnalyticsSession,
    principal: Operator,
    days: Days = 30,
) -> TerritoryFigures:
    """The operator's dashboard of its county (admins: any county)."""
    return await service.territory_figures(session=session, principal=principal, fips=fips, days=days)


@router.get("/platform")
async def platform(session: AnalyticsSession, _: Admin, days: Days = 30) -> PlatformFigures:
    """Platform-wide daily figures."""
    return await service.platform_figures(session=session, days=days)
