"""Request-scoped dependencies: settings, the database session, storage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.config import Settings
from ftw.integrations import Integrations
from ftw.integrations.storage import Storage


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent."""
    async with request.app.state.db.session() as session:
        yield session


def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


def get_integrations(request: Request) -> Integrations:
    integrations: Integrations = request.app.state.integrations
    return integrations


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
# scope="function": commit (or roll back) before the response leaves, so a failed
# commit is reported to the caller instead of after a 2xx was sent.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
StorageDep = Annotated[Storage, Depends(get_storage)]
IntegrationsDep = Annotated[Integrations, Depends(get_integrations)]
