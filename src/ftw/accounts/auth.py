"""Who may call a route. Every API route depends on exactly one of these."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ftw.accounts.models import Role
from ftw.core.errors import Forbidden, Unauthorized
from ftw.core.principal import REFUSED, principal
from ftw.core.security import AccessClaims

_bearer = HTTPBearer(auto_error=False, description="Access token from /api/v1/auth/login")

Principal = AccessClaims


async def optional_principal(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The caller if a valid token is presented; anonymous callers get None.

    The token was decoded once by ``PrincipalMiddleware``; ``_bearer`` only documents the
    scheme in OpenAPI. A presented but invalid token is refused rather than silently treated
    as anonymous.
    """
    state = request.scope["state"]
    if state.get(REFUSED):
        raise Unauthorized("The access token is invalid or has expired")
    return principal(state)


async def public(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Principal | None:
    """Anyone, signed in or not."""
    return principal


async def authenticated(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    """Any signed-in user."""
    if principal is None:
        raise Unauthorized("Sign in to do this")
    return principal


def require(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """Signed-in users holding one of ``roles`` (admins always pass)."""
    allowed = {*roles, Role.ADMIN}

    async def dependency(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
        if principal.role not in allowed:
            names = " or ".join(r.value for r in roles)
            raise Forbidden(f"Only a {names} may do this")
        return principal

    dependency.__name__ = f"require_{'_or_'.join(r.value for r in roles)}"
    return dependency


Anyone = Annotated[Principal | None, Depends(public)]
SignedIn = Annotated[Principal, Depends(authenticated)]
Homeowner = Annotated[Principal, Depends(require(Role.HOMEOWNER))]
Contractor = Annotated[Principal, Depends(require(Role.CONTRACTOR))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]

ACCESS_DEPENDENCIES: tuple[Callable[..., object], ...] = (public, authenticated)
