"""HTTP layer of accounts: sign-up, sessions, and the caller's own profile."""

from __future__ import annotations

from fastapi import APIRouter, status

from ftw.accounts import service
from ftw.accounts.auth import Anyone, SignedIn
from ftw.accounts.schemas import (
    Login,
    LogoutRequest,
    ProfileUpdate,
    RefreshRequest,
    Signup,
    TokenPair,
    UserOut,
)
from ftw.core.deps import OwnReadSessionDep, SessionDep, SettingsDep

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.post("/auth/signup", status_code=status.HTTP_201_CREATED)
async def signup(data: Signup, session: SessionDep, settings: SettingsDep, _: Anyone) -> UserOut:
    user = await service.signup(session=session, settings=settings, data=data)
    await session.refresh(user)
    return UserOut.model_validate(user)


@router.post("/auth/login")
async def login(data: Login, session: SessionDep, settings: SettingsDep, _: Anyone) -> TokenPair:
    return await service.login(session=session, settings=settings, email=data.email, password=data.password)


@router.post("/auth/refresh")
async def refresh(data: RefreshRequest, session: SessionDep, settings: SettingsDep, _: Anyone) -> TokenPair:
    return await service.refresh(session=session, settings=settings, token=data.refresh_token)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(data: LogoutRequest, session: SessionDep, _: Anyone) -> None:
    await service.logout(session=session, token=data.refresh_token, everywhere=data.everywhere)


@router.get("/me")
async def me(principal: SignedIn, session: OwnReadSessionDep) -> UserOut:
    return await service.profile(session=session, user_id=principal.user_id)


@router.patch("/me")
async def update_me(data: ProfileUpdate, principal: SignedIn, session: SessionDep) -> UserOut:
    user = await service.update_profile(session=session, user_id=principal.user_id, data=data)
    await session.refresh(user)
    return UserOut.model_validate(user)
