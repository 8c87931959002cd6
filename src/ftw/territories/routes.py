"""HTTP layer of territories."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from ftw.accounts.auth import Anyone, Operator
from ftw.core import pagination
from ftw.core.deps import SessionDep, SettingsDep
from ftw.territories import service
from ftw.territories.schemas import ClaimOut, TerritoryOut, TerritoryPage

router = APIRouter(prefix="/api/v1/territories", tags=["territories"])

Fips = Annotated[str, Path(pattern=r"^\d{5}$", description="Five-digit county FIPS code")]


@router.get("")
async def browse(
    session: SessionDep,
    settings: SettingsDep,
    _: Anyone,
    state: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$")] = None,
    unclaimed: bool | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> TerritoryPage:
    after = str(pagination.decode(cursor, 1)[0]) if cursor else None
    rows = await service.browse(
        session=session, state=state, unclaimed=unclaimed, after=after, limit=limit + 1
    )
    items = [service.present(t, settings) for t in rows[:limit]]
    return TerritoryPage(
        items=items, next_cursor=pagination.encode(items[-1].fips) if len(rows) > limit else None
    )


@router.get("/{fips}")
async def detail(fips: Fips, session: SessionDep, settings: SettingsDep, _: Anyone) -> TerritoryOut:
    return service.present(await service.get(session=session, fips=fips), settings)


@router.post("/{fips}/claim")
async def claim(fips: Fips, session: SessionDep, settings: SettingsDep, principal: Operator) -> ClaimOut:
    return await service.claim(session=session, settings=settings, fips=fips, operator_id=principal.user_id)
