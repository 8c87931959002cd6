"""The verified-token memory: a token's signature is checked once, and never past its expiry."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import jwt

from ftw.config import Settings
from ftw.core.principal import VerifiedTokens


def _token(settings: Settings, *, expires_in: timedelta, user_id: int = 7, key: str | None = None) -> str:
    payload = {"sub": str(user_id), "role": "homeowner", "pro": False, "typ": "access"}
    payload["exp"] = datetime.now(UTC) + expires_in
    secret = key or settings.auth.secret_key.get_secret_value()
    return jwt.encode(payload, secret, algorithm=settings.auth.algorithm)


def test_a_remembered_token_is_refused_once_it_expires(settings: Settings) -> None:
    tokens = VerifiedTokens(settings.auth)
    token = _token(settings, expires_in=timedelta(seconds=2))
    claims = tokens.claims(token)
    assert claims is not None
    assert claims.user_id == 7
    assert tokens.claims(token) == claims
    time.sleep(2.1)
    assert tokens.claims(token) is None


def test_a_forged_token_is_refused_every_time(settings: Settings) -> None:
    tokens = VerifiedTokens(settings.auth)
    forged = _token(settings, expires_in=timedelta(minutes=5), key="not-the-server-key-" * 3)
    assert tokens.claims(forged) is None
    assert tokens.claims(forged) is None
