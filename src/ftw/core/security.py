"""Password hashing (argon2), access tokens (JWT) and opaque refresh tokens."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from nacl import pwhash
from nacl.exceptions import CryptPrefixError, InvalidkeyError

from ftw.config import AuthSettings

# argon2id at OWASP's recommended parameters (DESIGN.md, security): 19 MiB, 2 passes, 1 lane.
# libsodium (PyNaCl) computes it, with the AVX2/AVX-512 code it picks at run time: about an
# eighth less CPU per hash than argon2-cffi's SSE build of the same algorithm and parameters
# (docs/decisions.md), and the same PHC string ($argon2id$v=19$m=19456,t=2,p=1$...); it
# verifies any argon2 hash, older parameters included. argon2-cffi reads a hash's parameters,
# so those made with other ones are redone at the next sign-in.
OPSLIMIT, MEMLIMIT = 2, 19 * 1024 * 1024
_parameters = PasswordHasher(time_cost=OPSLIMIT, memory_cost=MEMLIMIT // 1024, parallelism=1)
# One hash per core at a time in each process: a sign-in storm queues here (holding only the
# passwords) instead of running hundreds of 19 MiB hashes at once; the event loop stays free.
_hashing = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="argon2")


def hash_password(password: str) -> str:
    return pwhash.argon2id.str(password.encode(), opslimit=OPSLIMIT, memlimit=MEMLIMIT).decode()


def verify_password(password_hash: str, password: str) -> bool:
    """False for a wrong password and for a hash in no format libsodium knows."""
    try:
        return pwhash.verify(password_hash.encode(), password.encode())
    except (InvalidkeyError, CryptPrefixError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _parameters.check_needs_rehash(password_hash)


async def hashed(password: str) -> str:
    """``hash_password`` off the event loop, in the bounded hashing pool."""
    return await asyncio.get_running_loop().run_in_executor(_hashing, hash_password, password)


async def verified(password_hash: str, password: str) -> bool:
    """``verify_password`` off the event loop, in the bounded hashing pool."""
    return await asyncio.get_running_loop().run_in_executor(
        _hashing, verify_password, password_hash, password
    )


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    role: str
    pro: bool
    expires_at: datetime


def issue_access_token(auth: AuthSettings, *, user_id: int, role: str, pro: bool) -> tuple[str, datetime]:
    expires_at = datetime.now(UTC) + timedelta(minutes=auth.access_token_minutes)
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "role": role,
        "pro": pro,
        "exp": expires_at,
        "typ": "access",
    }
    token = jwt.encode(payload, auth.secret_key.get_secret_value(), algorithm=auth.algorithm)
    return token, expires_at


def read_access_token(auth: AuthSettings, token: str) -> AccessClaims | None:
    """The token's claims, or None when it is forged, expired or not an access token."""
    try:
        payload = jwt.decode(
            token,
            auth.secret_key.get_secret_value(),
            algorithms=[auth.algorithm],
            options={"require": ["exp", "sub"]},
        )
    except jwt.PyJWTError:
        return None
    if payload.get("typ") != "access":
        return None
    return AccessClaims(
        user_id=int(payload["sub"]),
        role=str(payload["role"]),
        pro=bool(payload.get("pro")),
        expires_at=datetime.fromtimestamp(payload["exp"], UTC),
    )


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """Refresh tokens are stored only as their SHA-256, so a database leak reveals none."""
    return hashlib.sha256(token.encode()).hexdigest()


def sign(auth: AuthSettings, purpose: str, value: str) -> str:
    """``value`` with its HMAC for ``purpose``: a link that proves itself and is stored
    nowhere (a notification e-mail's unsubscribe link). Changing the key voids them all."""
    key = auth.secret_key.get_secret_value().encode()
    mac = hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).digest()[:18]
    return f"{value}.{base64.urlsafe_b64encode(mac).decode()}"


def unsign(auth: AuthSettings, purpose: str, token: str) -> str | None:
    """The value ``sign`` made ``token`` from for ``purpose``, or None when it was not."""
    value = token.rpartition(".")[0]
    return value if value and hmac.compare_digest(sign(auth, purpose, value), token) else None
