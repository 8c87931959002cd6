"""Sign-up, sign-in and the rotation and revocation of refresh tokens; password change and
reset, e-mail confirmation and deactivation.

Nothing here tells a caller whether an e-mail address has an account: sign-up and the
password-reset request answer alike for both (the owner of the address learns the rest by
e-mail), and a sign-in costs the same argon2 verification for known, unknown and inactive
accounts. Repeated failed sign-ins for one address close its sign-in for a doubling time.
"""

from __future__ import annotations

import math
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.mail import MAIL_TASK, PHONE_CODE_TASK, MailKind
from ftw.accounts.models import AccountToken, RefreshToken, Role, SignInBackoff, TokenPurpose, User
from ftw.accounts.schemas import OperatorApplicant, ProfileUpdate, Signup, TokenPair, UserOut
from ftw.config import AuthSettings, Settings
from ftw.core import audit, tasks
from ftw.core.db import ReadSession
from ftw.core.errors import Conflict, Invalid, NotFound, TooManyRequests, Unauthorized
from ftw.core.pagination import Keyset, PageParams
from ftw.core.query import Query
from ftw.core.security import (
    digest,
    hash_password,
    hashed,
    issue_access_token,
    needs_rehash,
    new_refresh_token,
    sign,
    unsign,
    verified,
)
from ftw.territories.geography import county_for_zip

_REFERRAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
# Twilio's opt-out and opt-in keywords (its Advanced Opt-Out defaults).
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
UNSUBSCRIBE = "unsubscribe"  # the purpose of an unsubscribe link's signature


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


def _check_password(auth: AuthSettings, password: str, field: str = "password") -> None:
    if len(password) < auth.password_min_length:
        raise Invalid(f"Password must be at least {auth.password_min_length} characters", field=field)


async def _mail(session: AsyncSession, kind: MailKind, **payload: object) -> None:
    """Queue an account e-mail in the caller's transaction (accounts/mail.py sends it)."""
    await tasks.enqueue(session, MAIL_TASK, {"kind": kind, **payload})


async def signup(*, session: AsyncSession, settings: Settings, data: Signup) -> None:
    """Create an account and e-mail its confirmation link; for an address that already has
    an account, create nothing and e-mail its owner instead. The two cost the same (one
    argon2 hash, one queued e-mail) and answer the same, so sign-up reveals no account.

    An unknown referral code is ignored rather than refused, so codes cannot be probed.
    """
    _check_password(settings.auth, data.password)
    territory = None
    if data.zip:
        territory = county_for_zip(data.zip)
        if territory is None:
            raise Invalid("Unknown ZIP code", field="zip")
    email = data.email.lower()
    password_hash = await hashed(data.password)
    existing = await session.scalar(select(User.id).where(User.email == email))
    if existing is not None:
        await _mail(session, "signup_existing", user_id=existing)
        return
    referrer_id = None
    if data.referral_code:
        referrer_id = await session.scalar(
            select(User.id).where(User.referral_code == data.referral_code.upper())
        )
    user = User(
        email=email,
        password_hash=password_hash,
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
    except IntegrityError:  # a concurrent sign-up with the same e-mail won the race
        winner = await session.scalar(select(User.id).where(User.email == email))
        await _mail(session, "signup_existing", user_id=winner)
        return
    await _mail(session, "email_confirm", user_id=user.id)


async def login(*, session: AsyncSession, settings: Settings, email: str, password: str) -> TokenPair:
    """Argon2 (~15 CPU-ms a hash) runs in the bounded hashing pool (it releases the GIL), so
    a sign-in does not stall every other request of its worker.

    Every attempt not refused by the backoff verifies one hash (the account's, or a dummy
    one for an unknown address) before looking at whether the account is active, so the
    answer's time tells known, unknown and inactive accounts apart no better than its text.
    """
    email = email.lower()
    backoff = await session.get(SignInBackoff, digest(email))
    now = datetime.now(UTC)
    if backoff is not None and backoff.blocked_until is not None and backoff.blocked_until > now:
        wait = math.ceil((backoff.blocked_until - now).total_seconds())
        raise TooManyRequests(
            f"Too many failed sign-ins for this address; retry in {wait} s", retry_after_s=wait
        )
    user = await session.scalar(select(User).where(User.email == email))
    matches = await verified(user.password_hash if user is not None else _DUMMY_HASH, password)
    if user is None or not user.is_active or not matches:
        await _failed(session=session, auth=settings.auth, email=email, user=user, now=now)
        raise Unauthorized("Invalid e-mail or password", keep_writes=True)
    if backoff is not None:
        await session.delete(backoff)
    if needs_rehash(user.password_hash):
        user.password_hash = await hashed(password)
    user.last_login_at = now
    await audit.record(session, actor_id=user.id, action="auth.login", target=f"user:{user.id}")
    return await _issue(session=session, settings=settings, user=user, family_id=uuid.uuid4())


async def _failed(
    *, session: AsyncSession, auth: AuthSettings, email: str, user: User | None, now: datetime
) -> None:
    """Count a failed sign-in for ``email`` (one upsert: concurrent failures all count);
    past the threshold, close its sign-in for a time that doubles with each further
    failure, up to the maximum. Audit-logged either way."""
    forget_before = now - timedelta(seconds=auth.backoff_max_s * 2)  # an old streak is forgotten
    upsert = insert(SignInBackoff).values(email_digest=digest(email), failures=1, last_failed_at=now)
    failures = await session.scalar(
        upsert.on_conflict_do_update(
            index_elements=[SignInBackoff.email_digest],
            set_={
                "failures": case(
                    (SignInBackoff.last_failed_at < forget_before, 1), else_=SignInBackoff.failures + 1
                ),
                "last_failed_at": now,
            },
        ).returning(SignInBackoff.failures)
    )
    assert failures is not None  # RETURNING of an upsert always gives the row
    data: dict[str, object] = {"failures": failures}
    past = failures - auth.backoff_after_failures
    if past >= 0:
        seconds = min(auth.backoff_max_s, auth.backoff_base_s * 2 ** min(past, 30))
        await session.execute(
            update(SignInBackoff)
            .where(SignInBackoff.email_digest == digest(email))
            .values(blocked_until=now + timedelta(seconds=seconds))
        )
        data["blocked_s"] = seconds
    if user is None:
        data["email"] = email
    await audit.record(
        session,
        actor_id=user.id if user is not None else None,
        action="auth.login_failed",
        target=f"user:{user.id}" if user is not None else None,
        data=data,
    )


async def refresh(*, session: AsyncSession, settings: Settings, token: str) -> TokenPair:
    """Rotate: the presented token is spent and a new one issued in the same family.

    Presenting a spent token again means it was stolen or replayed: the whole family is
    revoked, so neither the thief nor the owner can continue that session. Except within
    ``refresh_grace_s`` of its rotation: two requests of one browser that both found the
    access token expired present the same token, and the later one gets a token of its own
    in the same family (the token stays spent; the grace is counted from its first use).
    """
    stored = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == digest(token)).with_for_update()
    )
    now = datetime.now(UTC)
    if stored is None:
        raise Unauthorized("Unknown refresh token")
    grace = timedelta(seconds=settings.auth.refresh_grace_s)
    just_rotated = stored.used_at is not None and now - stored.used_at <= grace
    if stored.revoked_at is not None or (stored.used_at is not None and not just_rotated):
        await _revoke_family(session=session, family_id=stored.family_id, now=now)
        raise Unauthorized("This refresh token was already used or revoked; sign in again", keep_writes=True)
    if stored.expires_at <= now:
        raise Unauthorized("The refresh token has expired; sign in again")
    user = await session.get(User, stored.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("The account is no longer active")
    stored.used_at = stored.used_at or now
    return await _issue(session=session, settings=settings, user=user, family_id=stored.family_id)


async def logout(*, session: AsyncSession, token: str, everywhere: bool) -> None:
    stored = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == digest(token)))
    if stored is None:
        raise Unauthorized("Unknown refresh token")
    now = datetime.now(UTC)
    if everywhere:
        await _revoke_all(session=session, user_id=stored.user_id)
    else:
        await _revoke_family(session=session, family_id=stored.family_id, now=now)


async def change_password(
    *, session: AsyncSession, settings: Settings, user_id: int, current_password: str, new_password: str
) -> None:
    """Replace the password after checking the current one; every session is signed out."""
    _check_password(settings.auth, new_password, field="new_password")
    user = await get(session=session, user_id=user_id)
    if not await verified(user.password_hash, current_password):
        await audit.record(
            session, actor_id=user.id, action="auth.password_change_refused", target=f"user:{user.id}"
        )
        # 422, not 401: the caller is signed in; only the password it typed is wrong.
        raise Invalid("The current password is wrong", field="current_password", keep_writes=True)
    user.password_hash = await hashed(new_password)
    await _revoke_all(session=session, user_id=user.id)
    await audit.record(session, actor_id=user.id, action="auth.password_changed", target=f"user:{user.id}")


async def request_password_reset(*, session: AsyncSession, email: str) -> None:
    """Queue a reset link to ``email``. The same for any address: the mail task finds
    whether it has an active account, so neither the answer nor its time tells."""
    await _mail(session, "password_reset", email=email.lower())


async def reset_password(*, session: AsyncSession, settings: Settings, token: str, new_password: str) -> None:
    """Set a new password with an e-mailed reset token: once, before it expires. Every
    session is signed out and the address's sign-in backoff is lifted."""
    _check_password(settings.auth, new_password, field="new_password")
    stored = await _spend(session=session, token=token, purpose=TokenPurpose.PASSWORD_RESET)
    user = await session.get(User, stored.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("This link is invalid or has expired", keep_writes=True)
    user.password_hash = await hashed(new_password)
    # The link came by e-mail: following it proves the address too.
    user.email_verified_at = user.email_verified_at or datetime.now(UTC)
    await _revoke_all(session=session, user_id=user.id)
    backoff = await session.get(SignInBackoff, digest(user.email))
    if backoff is not None:
        await session.delete(backoff)
    await audit.record(session, actor_id=user.id, action="auth.password_reset", target=f"user:{user.id}")


async def confirm_email(*, session: AsyncSession, token: str) -> None:
    """Mark the address of an e-mailed confirmation token as verified (once)."""
    stored = await _spend(session=session, token=token, purpose=TokenPurpose.EMAIL_CONFIRM)
    user = await get(session=session, user_id=stored.user_id)
    user.email_verified_at = user.email_verified_at or datetime.now(UTC)
    await audit.record(session, actor_id=user.id, action="auth.email_confirmed", target=f"user:{user.id}")


async def deactivate(*, session: AsyncSession, user_id: int, password: str) -> None:
    """Close the caller's own account after checking its password; every session ends.
    The rows stay (invoices, the ledger and reviews refer to them)."""
    user = await get(session=session, user_id=user_id)
    if not await verified(user.password_hash, password):
        await audit.record(
            session, actor_id=user.id, action="auth.deactivate_refused", target=f"user:{user.id}"
        )
        raise Invalid("The password is wrong", field="password", keep_writes=True)
    user.is_active = False
    user.is_available = False
    await _revoke_all(session=session, user_id=user.id)
    await audit.record(session, actor_id=user.id, action="user.deactivated", target=f"user:{user.id}")


async def issue_account_token(
    *, session: AsyncSession, auth: AuthSettings, user_id: int, purpose: TokenPurpose
) -> str:
    """A new single-use token for ``purpose``; only its digest is stored."""
    life = (
        timedelta(minutes=auth.password_reset_minutes)
        if purpose is TokenPurpose.PASSWORD_RESET
        else timedelta(hours=auth.email_confirm_hours)
    )
    raw = new_refresh_token()
    session.add(
        AccountToken(
            user_id=user_id,
            purpose=purpose.value,
            token_hash=digest(raw),
            expires_at=datetime.now(UTC) + life,
        )
    )
    await session.flush()
    return raw


async def _spend(*, session: AsyncSession, token: str, purpose: TokenPurpose) -> AccountToken:
    stored = await session.scalar(
        select(AccountToken)
        .where(AccountToken.token_hash == digest(token), AccountToken.purpose == purpose.value)
        .with_for_update()
    )
    if stored is None or stored.used_at is not None or stored.expires_at <= datetime.now(UTC):
        raise Unauthorized("This link is invalid or has expired")
    stored.used_at = datetime.now(UTC)
    return stored


async def _revoke_all(*, session: AsyncSession, user_id: int) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )


async def request_phone_code(*, session: AsyncSession, user_id: int) -> None:
    """Queue a verification code to the caller's phone (accounts.tasks texts it)."""
    user = await get(session=session, user_id=user_id)
    if user.phone is None:
        raise Invalid("Add a phone number to your profile first", field="phone")
    if user.phone_verified_at is not None:
        raise Conflict("This phone number is already verified", field="phone")
    await tasks.enqueue(session, PHONE_CODE_TASK, {"user_id": user.id, "phone": user.phone})


async def issue_phone_code(*, session: AsyncSession, auth: AuthSettings, user_id: int) -> str:
    """A new 6-digit code for the user's phone; earlier codes stop working."""
    await session.execute(
        update(AccountToken)
        .where(AccountToken.user_id == user_id, AccountToken.purpose == TokenPurpose.PHONE_VERIFY.value)
        .where(AccountToken.used_at.is_(None))
        .values(used_at=datetime.now(UTC))
    )
    code = f"{secrets.randbelow(1_000_000):06d}"
    token = AccountToken(
        user_id=user_id,
        purpose=TokenPurpose.PHONE_VERIFY.value,
        token_hash=digest(secrets.token_hex(16)),  # until the row has the id its digest includes
        expires_at=datetime.now(UTC) + timedelta(minutes=auth.phone_code_minutes),
    )
    session.add(token)
    await session.flush()
    token.token_hash = _phone_code_digest(token, code)
    await session.flush()
    return code


async def verify_phone(*, session: AsyncSession, settings: Settings, user_id: int, code: str) -> None:
    """Check a texted code: right, the number is verified; wrong, one of its few tries is spent."""
    user = await get(session=session, user_id=user_id)
    stored = await session.scalar(
        select(AccountToken)
        .where(
            AccountToken.user_id == user_id,
            AccountToken.purpose == TokenPurpose.PHONE_VERIFY.value,
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > datetime.now(UTC),
        )
        .order_by(AccountToken.id.desc())
        .limit(1)
        .with_for_update()
    )
    if stored is None:
        raise Conflict("No code is waiting; ask for a new one", field="code")
    if not secrets.compare_digest(stored.token_hash, _phone_code_digest(stored, code)):
        stored.attempts += 1
        if stored.attempts >= settings.auth.phone_code_attempts:
            stored.used_at = datetime.now(UTC)
        # 422, not 401: the caller is signed in; only the code it typed is wrong.
        raise Invalid("That code is not right", field="code", keep_writes=True)
    stored.used_at = datetime.now(UTC)
    user.phone_verified_at = datetime.now(UTC)
    await audit.record(session, actor_id=user.id, action="user.phone_verified", target=f"user:{user.id}")


def _phone_code_digest(token: AccountToken, code: str) -> str:
    return digest(f"{token.user_id}:{token.id}:{code}")


async def sms_reply(*, session: AsyncSession, phone: str, body: str) -> None:
    """An inbound SMS (Twilio's webhook): STOP and its synonyms opt the number out of every
    text, START opts it back in; anything else is ignored."""
    word = body.strip().split(maxsplit=1)[0].upper() if body.strip() else ""
    if word in STOP_WORDS:
        opted_out = datetime.now(UTC)
    elif word in START_WORDS:
        opted_out = None
    else:
        return
    await session.execute(update(User).where(User.phone == phone).values(sms_opted_out_at=opted_out))
    await audit.record(
        session, actor_id=None, action="sms.opt_out" if opted_out else "sms.opt_in", data={"phone": phone}
    )


_APPLICANTS = {
    pending: Keyset(
        select(*User.__table__.c[tuple(OperatorApplicant.model_fields)]).where(
            User.role == Role.OPERATOR,
            User.is_active.is_(True),
            User.operator_approved_at.is_(None) if pending else User.operator_approved_at.is_not(None),
        ),
        User.id,
    )
    for pending in (False, True)
}


async def operator_applicants(
    *, session: AsyncSession, pending: bool, page: PageParams
) -> tuple[list[OperatorApplicant], str | None]:
    """Operator accounts, oldest first: those awaiting approval (``pending``) or approved."""
    rows, next_cursor = await _APPLICANTS[pending].page(session, page.cursor, page.limit)
    return [OperatorApplicant.model_validate(dict(row)) for row in rows], next_cursor


async def approve_operator(*, session: AsyncSession, admin_id: int, user_id: int) -> User:
    """An admin vets an operator's application: from now on it may claim a county."""
    user = await get(session=session, user_id=user_id)
    if user.role != Role.OPERATOR:
        raise Invalid("Only an operator account can be approved as an operator", field="user_id")
    if user.operator_approved_at is None:
        user.operator_approved_at = datetime.now(UTC)
        await audit.record(session, actor_id=admin_id, action="operator.approved", target=f"user:{user.id}")
        await session.flush()
    return user


async def refuse_operator(*, session: AsyncSession, admin_id: int, user_id: int) -> User:
    """An admin turns an operator's application down: the applicant's account is closed
    (its sessions ended), since an operator account can do nothing else. Audit-logged."""
    user = await get(session=session, user_id=user_id)
    if user.role != Role.OPERATOR:
        raise Invalid("Only an operator account can be refused as an operator", field="user_id")
    if user.operator_approved_at is not None:
        raise Conflict("This operator was already approved")
    user.is_active = False
    await _revoke_all(session=session, user_id=user.id)
    await audit.record(session, actor_id=admin_id, action="operator.refused", target=f"user:{user.id}")
    await session.flush()
    return user


def unsubscribe_link(settings: Settings, user_id: int) -> str:
    """The one-click link in every notification e-mail: signed, needs no sign-in."""
    token = sign(settings.auth, UNSUBSCRIBE, str(user_id))
    return f"{settings.public_url.rstrip('/')}/unsubscribe?token={token}"


async def unsubscriber(*, session: AsyncSession, settings: Settings, token: str) -> User:
    """The user an unsubscribe link was made for."""
    user_id = unsign(settings.auth, UNSUBSCRIBE, token)
    user = await session.get(User, int(user_id)) if user_id and user_id.isdigit() else None
    if user is None or not user.is_active:
        raise NotFound("This unsubscribe link is not valid; sign in to change your e-mail settings")
    return user


async def unsubscribe(*, session: AsyncSession, settings: Settings, token: str) -> User:
    """Turn notification e-mails off for the link's user (account e-mails still go)."""
    user = await unsubscriber(session=session, settings=settings, token=token)
    if user.notify_email:
        user.notify_email = False
        await audit.record(session, actor_id=user.id, action="email.unsubscribed", target=f"user:{user.id}")
        await session.flush()
    return user


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
    if "phone" in changes and changes["phone"] != user.phone:
        user.phone_verified_at = None  # a new number is texted nothing until it is verified
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
