"""The caller, resolved once per request.

The access token is decoded here, once, before anything else needs it; the rate limiter,
the access dependencies, the session's read-your-writes and the logs all read the result
from the request's state instead of decoding the token again.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from ftw.config import AuthSettings
from ftw.core.security import AccessClaims, read_access_token

PRINCIPAL = "principal"  # request state: the caller's claims, or None
REFUSED = "token_refused"  # request state: a token was presented but is forged or expired


def bearer_token(scope: Scope) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if one is presented."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() or None if scheme.lower() == "bearer" else None
    return None


def principal(state: dict[str, Any]) -> AccessClaims | None:
    """The caller resolved for this request's state (None: anonymous or refused)."""
    claims: AccessClaims | None = state.get(PRINCIPAL)
    return claims


class PrincipalMiddleware:
    """Decodes the bearer token into the request's state. Pure ASGI: nothing buffered."""

    def __init__(self, app: ASGIApp, auth: AuthSettings) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            state = scope.setdefault("state", {})
            token = bearer_token(scope)
            claims = read_access_token(self.auth, token) if token else None
            state[PRINCIPAL] = claims
            state[REFUSED] = token is not None and claims is None
        await self.app(scope, receive, send)
