"""Browser sessions: the API's own tokens, kept in cookies.

``ftw_refresh`` holds the refresh token of the same family the API issues (7 days), and
``ftw_access`` the access token (15 minutes), so a page request verifies a signature and
touches no table. When the access token has expired the refresh token is rotated through
``accounts.service.refresh``: a replayed refresh cookie revokes the family exactly as a
replayed API refresh token does, and signing out revokes it as the API's logout does.

Both cookies are HttpOnly and SameSite=Lax (Secure in production). Forms carry a CSRF
token equal to the random ``ftw_csrf`` cookie (double submit); it is renewed at sign-in
and sign-out, so a token planted before sign-in is worth nothing after it.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Literal

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from ftw.accounts import service as accounts
from ftw.accounts.schemas import TokenPair
from ftw.config import Settings
from ftw.core.db import Database
from ftw.core.errors import Unauthorized
from ftw.core.security import AccessClaims, read_access_token

ACCESS = "ftw_access"
REFRESH = "ftw_refresh"
CSRF = "ftw_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Cookies:
    """The Set-Cookie changes a page answer carries."""

    secure: bool
    pending: list[tuple[str, str, int]] = field(default_factory=list)  # name, value, max-age (0: delete)

    def set(self, name: str, value: str, max_age: int) -> None:
        self.pending.append((name, value, max_age))

    def delete(self, name: str) -> None:
        self.pending.append((name, "", 0))

    def apply(self, response: Response) -> None:
        for name, value, max_age in self.pending:
            if max_age:
                response.set_cookie(
                    name, value, max_age=max_age, path="/", secure=self.secure, httponly=True, samesite="lax"
                )
            else:
                response.delete_cookie(name, path="/", secure=self.secure, httponly=True, samesite="lax")


@dataclass
class Session:
    """Who is asking (None: nobody signed in), the form token, and the cookies to send."""

    viewer: AccessClaims | None
    csrf: str
    cookies: Cookies
    refresh_token: str | None = None

    def signed_in(self, settings: Settings, tokens: TokenPair) -> AccessClaims:
        """Keep ``tokens`` in the cookies; the claims of the new access token."""
        claims = read_access_token(settings.auth, tokens.access_token)
        assert claims is not None, "a token just issued reads back"
        self.cookies.set(ACCESS, tokens.access_token, tokens.expires_in)
        self.cookies.set(REFRESH, tokens.refresh_token, settings.auth.refresh_token_days * 86_400)
        self.renew_csrf()
        self.viewer, self.refresh_token = claims, tokens.refresh_token
        return claims

    def signed_out(self) -> None:
        self.cookies.delete(ACCESS)
        self.cookies.delete(REFRESH)
        self.renew_csrf()
        self.viewer = self.refresh_token = None

    def renew_csrf(self) -> None:
        self.csrf = secrets.token_urlsafe(32)
        self.cookies.set(CSRF, self.csrf, 365 * 86_400)


async def resolve(request: Request, settings: Settings, db: Database) -> Session:
    """The request's session: the access cookie if valid, else a rotated refresh cookie."""
    cookies = Cookies(secure=settings.environment == "production")
    csrf = request.cookies.get(CSRF)
    session = Session(viewer=None, csrf=csrf or "", cookies=cookies)
    if not csrf:
        session.renew_csrf()
    refresh = request.cookies.get(REFRESH)
    access = request.cookies.get(ACCESS)
    if access and refresh:
        session.viewer = read_access_token(settings.auth, access)
        session.refresh_token = refresh
    if session.viewer is None and refresh:
        try:
            async with db.session() as s:
                tokens = await accounts.refresh(session=s, settings=settings, token=refresh)
        except Unauthorized:
            # Unknown, expired, or replayed (which has just revoked its family): nobody.
            cookies.delete(ACCESS)
            cookies.delete(REFRESH)
        else:
            claims = read_access_token(settings.auth, tokens.access_token)
            cookies.set(ACCESS, tokens.access_token, tokens.expires_in)
            cookies.set(REFRESH, tokens.refresh_token, settings.auth.refresh_token_days * 86_400)
            session.viewer, session.refresh_token = claims, tokens.refresh_token
    elif access and not refresh:
        cookies.delete(ACCESS)
    return session


CsrfCheck = Literal["ok", "missing", "wrong"]


def check_csrf(request: Request, form: FormData | None, expected: str) -> CsrfCheck:
    """The token of an unsafe request (its header, else its form field) against the cookie."""
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and form is not None:
        value = form.get(CSRF_FIELD)
        presented = value if isinstance(value, str) else None
    if not presented or not request.cookies.get(CSRF):
        return "missing"
    return "ok" if hmac.compare_digest(presented.encode(), expected.encode()) else "wrong"
