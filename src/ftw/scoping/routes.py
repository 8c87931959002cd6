"""HTTP layer of scoping."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ftw.accounts.auth import SignedIn
from ftw.core import ratelimit, switches
from ftw.core.deps import SessionDep, SettingsDep
from ftw.core.errors import Invalid
from ftw.core.routing import LeanRoute
from ftw.core.switches import Name
from ftw.integrations.deps import IntegrationsDep
from ftw.scoping.estimator import estimate
from ftw.scoping.refine import refined
from ftw.scoping.schemas import ScopeOut, ScopeRequest
from ftw.territories import service as territories
from ftw.territories.geography import county_for_zip

router = APIRouter(prefix="/api/v1", tags=["scoping"], route_class=LeanRoute)


@router.post("/scope")
@ratelimit.limit("scope")
async def scope(
    data: ScopeRequest,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    integrations: IntegrationsDep,
    _: SignedIn,
) -> ScopeOut:
    """Estimate a job without posting it: offline, refined by a language model when one is
    configured and not switched off (``source: llm``); ``degraded: true`` when that model
    could not be used."""
    state = data.state.upper() if data.state else None
    if data.zip:
        fips = county_for_zip(data.zip)
        if fips is None:
            raise Invalid("Unknown ZIP code", field="zip")
        state = (await territories.get(session=session, fips=fips)).state
    offline = estimate(
        trade=data.trade, title=data.title, description=data.description, state=state, rules=settings.jobs
    )
    result = await refined(
        offline,
        refiner=integrations.llm if await switches.is_on(request, Name.LLM_REFINEMENT) else None,
        vendor=settings.llm,
        rules=settings.jobs,
        trade=data.trade,
        title=data.title,
        description=data.description,
        state=state,
    )
    return ScopeOut(
        price_low_cents=result.price_low_cents,
        price_high_cents=result.price_high_cents,
        size=result.size,
        tier=result.tier,
        confidence=result.confidence,
        materials=list(result.materials),
        source=result.source,
        degraded=result.degraded,
        rationale=list(result.rationale),
    )
