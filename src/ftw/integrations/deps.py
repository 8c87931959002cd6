"""Request-scoped dependencies on the vendors: the process's adapters, built by create_app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ftw.integrations import Integrations
from ftw.integrations.storage import Storage


async def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


async def get_integrations(request: Request) -> Integrations:
    integrations: Integrations = request.app.state.integrations
    return integrations


StorageDep = Annotated[Storage, Depends(get_storage)]
IntegrationsDep = Annotated[Integrations, Depends(get_integrations)]
