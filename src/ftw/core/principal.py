"""The caller, resolved once per request.

The access token is decoded here, once, before anything else needs it; the rate limiter,
the access dependencies, the session's read-your-writes and the logs all read the result
from the request's state instead of decoding the token again. A client sends the same
token for its whole life (15 minutes), so the claims of a verified token are kept, by the
token itself, until it expires: the signature is checked once per token, not per request.
"""

from __future__ import annotations

import time
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


class VerifiedTokens:
    """The claims of tokens whose signature was checked, until each expires; the oldest
    are forgotten past ``size``. Forged and expired tokens are never kept."""

    def __init__(self, auth: AuthSettings, size: int = 20_000) -> None:
        self.auth = auth
        self.size = size
        self._claims: dict[str, tuple[float, AccessClaims]] = {}

    def claims(self, token: str) -> AccessClaims | None:
        kept = self._claims.get(token)
        now = time.time()
        if kept is not None and kept[0] > now:
            return kept[1]
        claims = read_access_token(self.auth, token)
        if claims is None:
            self._claims.pop(token, None)
            return None
        if len(self._claims) >= self.size:
            del self._claims[next(iter(self._claims))]
        self._claims[token] = (claims.expires_at.timestamp(), claims)
        return claims


class PrincipalMiddleware:
    """Decodes the bearer token into the request's state. Pure ASGI: nothing buffered."""

    def __init__(self, app: ASGIApp, auth: AuthSettings) -> None:
        self.app = app
        self.tokens = VerifiedTokens(auth)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            state = scope.setdefault("state", {})
            token = bearer_token(scope)
            claims = self.tokens.claims(token) if token else None
            state[PRINCIPAL] = claims
            state[REFUSED] = token is not None and claims is None
        await self.app(scope, receive, send)
