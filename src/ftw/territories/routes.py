"""HTTP layer of territories."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from ftw.accounts.auth import Anyone, Operator
from ftw.core import switches
from ftw.core.cache import CacheDep
from ftw.core.deps import ReadSessionDep, SessionDep, SettingsDep
from ftw.core.pagination import PageParams, page_params
from ftw.core.routing import LeanRoute
from ftw.core.switches import Name
from ftw.integrations.deps import IntegrationsDep
from ftw.territories import service
from ftw.territories.schemas import ClaimOut, ClaimPayment, TerritoryOut, TerritoryPage

router = APIRouter(prefix="/api/v1/territories", tags=["territories"], route_class=LeanRoute)

Fips = Annotated[str, Path(pattern=r"^\d{5}$", description="Five-digit county FIPS code")]


@router.get("")
async def browse(
    session: ReadSessionDep,
    settings: SettingsDep,
    cache: CacheDep,
    _: Anyone,
    page: Annotated[PageParams, Depends(page_params(default=50, maximum=100))],
    state: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$")] = None,
    unclaimed: bool | None = None,
) -> TerritoryPage:
    return await service.browse(
        cache_=cache, session=session, settings=settings, state=state, unclaimed=unclaimed, page=page
    )


@router.get("/{fips}")
async def detail(
    fips: Fips, session: ReadSessionDep, settings: SettingsDep, cache: CacheDep, _: Anyone
) -> TerritoryOut:
    return await service.detail(cache_=cache, session=session, settings=settings, fips=fips)


@router.post("/{fips}/claim", dependencies=[switches.required(Name.TERRITORY_CLAIMS)])
async def claim(
    fips: Fips,
    session: SessionDep,
    settings: SettingsDep,
    integrations: IntegrationsDep,
    principal: Operator,
    data: ClaimPayment | None = None,
) -> ClaimOut:
    """Claim a county (an approved operator, one county each). The first claims are free;
    later ones are charged their band's price first (402 declined, 503 provider down)."""
    return await service.claim(
        session=session, settings=settings, fips=fips, operator_id=principal.user_id,
        payments=integrations.payments, payment_method=(data or ClaimPayment()).payment_method,
    )  # fmt: skip
