"""Who may call a route. Every API route depends on exactly one of these.

Each is one dependency reading what ``PrincipalMiddleware`` resolved: FastAPI inspects every
dependency of a route on every request, so a chain (role -> signed in -> token -> bearer
scheme) cost four of those for one answer. The bearer scheme is documented in OpenAPI by
``document_bearer`` instead of by a dependency.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from ftw.accounts.models import Role
from ftw.core.errors import Forbidden, Unauthorized
from ftw.core.principal import REFUSED, bearer_token, principal
from ftw.core.security import AccessClaims

Principal = AccessClaims
ACCESS = "ftw_access"  # marks the access dependencies: "public", "signed_in" or "metrics_token"
BEARER = {"type": "http", "scheme": "bearer", "description": "Access token from /api/v1/auth/login"}


def _caller(request: Request) -> Principal | None:
    """The caller ``PrincipalMiddleware`` resolved; a presented but invalid token is refused
    rather than silently treated as anonymous."""
    state = request.scope["state"]
    if state.get(REFUSED):
        raise Unauthorized("The access token is invalid or has expired")
    return principal(state)


def _signed_in(request: Request) -> Principal:
    caller = _caller(request)
    if caller is None:
        raise Unauthorized("Sign in to do this")
    return caller


async def public(request: Request) -> Principal | None:
    """Anyone, signed in or not."""
    return _caller(request)


async def authenticated(request: Request) -> Principal:
    """Any signed-in user."""
    return _signed_in(request)


async def scraper(request: Request) -> None:
    """The metrics scraper: ``Authorization: Bearer <FTW_METRICS_TOKEN>`` when a token is
    configured (production requires one); anyone when none is (development)."""
    settings = request.app.state.settings
    token = settings.metrics_token
    if token is None:
        if settings.environment == "production":
            raise Forbidden("Set FTW_METRICS_TOKEN to serve metrics in production")
        return
    presented = bearer_token(request.scope) or ""
    if not hmac.compare_digest(presented.encode(), token.get_secret_value().encode()):
        raise Unauthorized("The metrics token is missing or wrong")


def require(*roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    """Signed-in users holding one of ``roles`` (admins always pass)."""
    allowed = {*roles, Role.ADMIN}
    names = " or ".join(r.value for r in roles)

    async def dependency(request: Request) -> Principal:
        caller = _signed_in(request)
        if caller.role not in allowed:
            raise Forbidden(f"Only a {names} may do this")
        return caller

    dependency.__name__ = f"require_{'_or_'.join(r.value for r in roles)}"
    setattr(dependency, ACCESS, "signed_in")
    return dependency


setattr(public, ACCESS, "public")
setattr(authenticated, ACCESS, "signed_in")
setattr(scraper, ACCESS, "metrics_token")


Anyone = Annotated[Principal | None, Depends(public)]
SignedIn = Annotated[Principal, Depends(authenticated)]
Homeowner = Annotated[Principal, Depends(require(Role.HOMEOWNER))]
Contractor = Annotated[Principal, Depends(require(Role.CONTRACTOR))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
Scraper = Annotated[None, Depends(scraper)]


def access_of(route: APIRoute) -> str | None:
    """Who the route lets in ("public", "signed_in" or "metrics_token"), from the dependency
    it declares."""

    def declared(dependant: Dependant) -> str | None:
        for sub in dependant.dependencies:
            if (access := getattr(sub.call, ACCESS, None) or declared(sub)) is not None:
                return str(access)
        return None

    return declared(route.dependant)


def document_bearer(app: FastAPI, routes: Sequence[BaseRoute]) -> None:
    """OpenAPI names the bearer scheme on every one of ``routes`` that reads the caller."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = BEARER
        for route in routes:
            if isinstance(route, APIRoute) and route.include_in_schema and access_of(route):
                for method in route.methods or ():
                    operation = schema["paths"][route.path_format].get(method.lower())
                    if operation is not None:
                        operation["security"] = [{"bearer": []}]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
