"""Sign-up, log-in and the rotation and revocation of refresh tokens."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.models import RefreshToken, Role, User
from ftw.accounts.schemas import ProfileUpdate, Signup, TokenPair, UserOut
from ftw.config import Settings
from ftw.core import audit
from ftw.core.db import ReadSession
from ftw.core.errors import Conflict, Invalid, NotFound, Unauthorized
from ftw.core.query import Query
from ftw.core.security import (
    digest,
    hash_password,
    hashed,
    issue_access_token,
    needs_rehash,
    new_refresh_token,
    verified,
)
from ftw.territories.geography import county_for_zip

_REFERRAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_referral_code() -> str:
    return "".join(secrets.choice(_REFERRAL_ALPHABET) for _ in range(8))


_PROFILE = Query(
    select(*User.__table__.c[tuple(UserOut.model_fields)]).where(
        User.id == bindparam("user_id"), User.is_active.is_(True)
    )
)


async def profile(*, session: ReadSession, user_id: int) -> UserOut:
    """An active user's own profile, as ``GET /me`` shows it."""
    row = await _PROFILE.row(session, user_id=user_id)
    if row is None:
        raise NotFound("No such user")
    return UserOut.model_validate(dict(row))


async def get(*, session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        raise NotFound("No such user")
    return user


async def signup(*, session: AsyncSession, settings: Settings, data: Signup) -> User:
    if len(data.password) < settings.auth.password_min_length:
        raise Invalid(
            f"Password must be at least {settings.auth.password_min_length} characters", field="password"
        )
    email = data.email.lower()
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("An account with this e-mail already exists", field="email")
    territory = None
    if data.zip:
        territory = county_for_zip(data.zip)
        if territory is None:
            raise Invalid("Unknown ZIP code", field="zip")
    referrer_id = None
    if data.referral_code:
        referrer_id = await session.scalar(
            select(User.id).where(User.referral_code == data.referral_code.upper())
        )
        if referrer_id is None:
            raise Invalid("Unknown referral code", field="referral_code")
    user = User(
        email=email,
        password_hash=await hashed(data.password),
        full_name=data.full_name,
        role=data.role,
        zip=data.zip,
        phone=data.phone,
        territory_fips=territory,
        referral_code=new_referral_code(),
        referred_by_id=referrer_id,
        is_available=data.role == Role.CONTRACTOR.value,
    )
    session.add(user)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # a concurrent sign-up with the same e-mail won the race
        raise Conflict("An account with this e-mail already exists", field="email") from exc
    return user


async def login(*, session: AsyncSession, settings: Settings, email: str, password: str) -> TokenPair:
    """Argon2 (~15 CPU-ms a hash) runs in the bounded hashing pool (it releases the GIL), so
    a sign-in does not stall every other request of its worker."""
    user = await session.scalar(select(User).where(User.email == email.lower()))
    # Verify against a dummy hash when the user is unknown so timing does not reveal accounts.
    if user is None:
        await verified(_DUMMY_HASH, password)
        await audit.record(session, actor_id=None, action="auth.login_failed", data={"email": email.lower()})
        raise Unauthorized("Invalid e-mail or password", keep_writes=True)
    if not user.is_active or not await verified(user.password_hash, password):
        await audit.record(session, actor_id=user.id, action="auth.login_failed", target=f"user:{user.id}")
        raise Unauthorized("Invalid e-mail or password", keep_writes=True)
    if needs_rehash(user.password_hash):
        user.password_hash = await hashed(password)
    user.last_login_at = datetime.now(UTC)
    await audit.record(session, actor_id=user.id, action="auth.login", target=f"user:{user.id}")
    return await _issue(session=session, settings=settings, user=user, family_id=uuid.uuid4())


async def refresh(*, session: AsyncSession, settings: Settings, token: str) -> TokenPair:
    """Rotate: the presented token is spent and a new one issued in the same family.

    Presenting a spent token again means it was stolen or replayed: the whole family is
    revoked, so neither the thief nor the owner can continue that session.
    """
    stored = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == digest(token)).with_for_update()
    )
    now = datetime.now(UTC)
    if stored is None:
        raise Unauthorized("Unknown refresh token")
    if stored.used_at is not None or stored.revoked_at is not None:
        await _revoke_family(session=session, family_id=stored.family_id, now=now)
        raise Unauthorized("This refresh token was already used or revoked; sign in again", keep_writes=True)
    if stored.expires_at <= now:
        raise Unauthorized("The refresh token has expired; sign in again")
    user = await session.get(User, stored.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("The account is no longer active")
    stored.used_at = now
    return await _issue(session=session, settings=settings, user=user, family_id=stored.family_id)


async def logout(*, session: AsyncSession, token: str, everywhere: bool) -> None:
    stored = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == digest(token)))
    if stored is None:
        raise Unauthorized("Unknown refresh token")
    now = datetime.now(UTC)
    if everywhere:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == stored.user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    else:
        await _revoke_family(session=session, family_id=stored.family_id, now=now)


async def update_profile(*, session: AsyncSession, user_id: int, data: ProfileUpdate) -> User:
    user = await get(session=session, user_id=user_id)
    changes = data.model_dump(exclude_unset=True)
    if "zip" in changes and changes["zip"] is not None:
        territory = county_for_zip(changes["zip"])
        if territory is None:
            raise Invalid("Unknown ZIP code", field="zip")
        user.territory_fips = territory
    if "is_available" in changes and user.role != Role.CONTRACTOR:
        raise Invalid("Only contractors have an availability", field="is_available")
    for name, value in changes.items():
        setattr(user, name, value)
    await session.flush()
    return user


async def _revoke_family(*, session: AsyncSession, family_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=func.coalesce(RefreshToken.revoked_at, now))
    )


async def _issue(*, session: AsyncSession, settings: Settings, user: User, family_id: uuid.UUID) -> TokenPair:
    access, expires_at = issue_access_token(settings.auth, user_id=user.id, role=user.role, pro=user.is_pro)
    raw = new_refresh_token()
    session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id,
            token_hash=digest(raw),
            expires_at=datetime.now(UTC) + timedelta(days=settings.auth.refresh_token_days),
        )
    )
    await session.flush()
    return TokenPair(
        access_token=access,
        refresh_token=raw,
        expires_in=int((expires_at - datetime.now(UTC)).total_seconds()),
    )


_DUMMY_HASH = hash_password(secrets.token_hex(16))
