"""Attacks on sign-in and accounts, each tried as an attacker would: address probing,
password guessing with and without a token of one's own, and reset links used twice."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts import service
from ftw.accounts import tasks as account_tasks
from ftw.accounts.models import AccountToken, RefreshToken, SignInBackoff, User
from ftw.app import create_app
from ftw.config import AuthLimits, Settings
from ftw.core import security
from ftw.core.audit import AuditEntry
from ftw.core.db import Database
from ftw.worker import Registry, drain
from tests.conftest import PASSWORD, SignUp
from tests.core import test_ratelimit
from tests.core.test_ratelimit import limited
from tests.support.market import recording_integrations

prefix = test_ratelimit.prefix  # the fixture: a Redis key prefix of the test's own
LOGIN = "/api/v1/auth/login"
NEW_PASSWORD = "a much longer new passphrase"


@asynccontextmanager
async def client_for(
    settings: Settings, database: Database, address: str = "127.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    """A client from ``address`` of one app per settings object: the clients of a test share
    its limiter, connected to Redis before the first request as the app's start-up does
    (ASGITransport runs no lifespan)."""
    app = next((app for kept, app in _apps if kept is settings), None)
    if app is None:
        app = create_app(settings, database=database)
        _apps.append((settings, app))  # kept alive, so no later settings object shares its id
        await app.state.limiter.warm()
    transport = httpx.ASGITransport(app=app, client=(address, 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


_apps: list[tuple[Settings, FastAPI]] = []


def _signup(email: str, **overrides: object) -> dict[str, object]:
    return {"email": email, "password": PASSWORD, "full_name": "Pat Doe", "zip": "10001"} | overrides


async def _mails(database: Database, settings: Settings, link: str = "") -> list[dict[str, str]]:
    """Run the queued account e-mails; what the e-mail provider was given (with ``link``)."""
    integrations, _, email = recording_integrations(settings)
    await drain(database, settings, integrations, registry=Registry(account_tasks.TASKS))
    return [m for m in email.sent if link in m["body"]]


def _token(mail: dict[str, str]) -> str:
    found = re.search(r"token=([\w-]+)", mail["body"])
    assert found is not None, mail
    return found.group(1)


async def test_signup_answers_alike_for_a_known_and_a_new_address(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, database: Database, settings: Settings
) -> None:
    known = await sign_up()
    taken = await client.post("/api/v1/auth/signup", json=_signup(known.email.upper(), full_name="Mallory"))
    fresh = await client.post("/api/v1/auth/signup", json=_signup("fresh@example.com"))
    assert taken.status_code == fresh.status_code == 202
    assert taken.json() == fresh.json()
    assert (
        await session.scalar(select(func.count()).select_from(User).where(User.full_name == "Mallory")) == 0
    )
    sent = {m["to"]: m for m in await _mails(database, settings)}
    assert "already has an account" in sent[known.email]["body"]
    assert "confirm-email?token=" in sent["fresh@example.com"]["body"]


async def test_an_unknown_referral_code_is_ignored_not_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    created = await client.post(
        "/api/v1/auth/signup", json=_signup("ref@example.com", referral_code="NOPE1234")
    )
    assert created.status_code == 202
    assert await session.scalar(select(User.referred_by_id).where(User.email == "ref@example.com")) is None


async def test_the_confirmation_link_verifies_the_address_once(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    await client.post("/api/v1/auth/signup", json=_signup("confirm@example.com"))
    (mail,) = await _mails(database, settings)
    body = {"token": _token(mail)}
    assert (await client.post("/api/v1/auth/email/confirm", json=body)).status_code == 204
    user = await session.scalar(select(User).where(User.email == "confirm@example.com"))
    assert user is not None
    await session.refresh(user)
    assert user.email_verified_at is not None
    again = await client.post("/api/v1/auth/email/confirm", json=body)
    assert again.status_code == 401
    assert again.headers["content-type"] == "application/problem+json"


async def test_sign_in_verifies_one_hash_for_known_unknown_and_inactive_accounts(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The time of a refusal is the argon2 verification's: run for every kind of account."""
    verifications: list[str] = []
    real = security.verified

    async def counted(password_hash: str, password: str) -> bool:
        verifications.append(password_hash)
        return await real(password_hash, password)

    monkeypatch.setattr(service, "verified", counted)
    inactive = await sign_up()
    await session.execute(update(User).where(User.id == inactive.id).values(is_active=False))
    verifications.clear()
    answers = [
        await client.post(LOGIN, json={"email": email, "password": PASSWORD})
        for email in (inactive.email, "nobody@example.com")
    ]
    assert [a.status_code for a in answers] == [401, 401]
    assert answers[0].json() == answers[1].json() | {"instance": answers[0].json()["instance"]}
    assert len(verifications) == 2


async def test_repeated_failures_back_off_the_address_exponentially_and_are_audited(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, settings: Settings
) -> None:
    account = await sign_up()
    threshold = settings.auth.backoff_after_failures
    for _ in range(threshold):
        wrong = await client.post(LOGIN, json={"email": account.email, "password": "wrong password!!"})
        assert wrong.status_code == 401
    # Now even the right password waits: a guesser gains nothing by keeping on.
    blocked = await client.post(LOGIN, json={"email": account.email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert blocked.headers["content-type"] == "application/problem+json"
    first_wait = int(blocked.headers["Retry-After"])
    assert settings.auth.backoff_base_s - 2 <= first_wait <= settings.auth.backoff_base_s
    failures = (
        await session.scalars(
            select(AuditEntry.data).where(
                AuditEntry.action == "auth.login_failed", AuditEntry.actor_id == account.id
            )
        )
    ).all()
    assert len(failures) == threshold
    assert failures[-1]["blocked_s"] == settings.auth.backoff_base_s


async def test_the_backoff_doubles_and_an_unknown_address_backs_off_alike(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    email = "ghost@example.com"
    for _ in range(settings.auth.backoff_after_failures):
        assert (
            await client.post(LOGIN, json={"email": email, "password": "guess guess 1"})
        ).status_code == 401
    blocked = await client.post(LOGIN, json={"email": email, "password": "guess guess 2"})
    assert blocked.status_code == 429
    # The block lapses; the next failure closes sign-in for twice as long.
    await session.execute(
        update(SignInBackoff).values(blocked_until=datetime.now(UTC) - timedelta(seconds=1))
    )
    assert (await client.post(LOGIN, json={"email": email, "password": "guess guess 3"})).status_code == 401
    again = await client.post(LOGIN, json={"email": email, "password": "guess guess 4"})
    assert (
        2 * settings.auth.backoff_base_s - 2
        <= int(again.headers["Retry-After"])
        <= 2 * settings.auth.backoff_base_s
    )


async def test_a_guesser_with_its_own_token_is_limited_by_address_and_by_target(
    settings: Settings, database: Database, prefix: str, sign_up: SignUp
) -> None:
    """The attack: password guesses for a victim, carrying the attacker's valid access token."""
    attacker = await sign_up()
    configured = limited(
        settings, prefix, auth_limits=AuthLimits(per_address="3/minute", per_email="4/minute")
    )
    guess = {"email": "victim@example.com", "password": "guess guess 1"}
    async with client_for(configured, database, "203.0.113.7") as client:
        codes = [
            (await client.post(LOGIN, json=guess, headers=attacker.headers)).status_code for _ in range(4)
        ]
        refused = await client.post(LOGIN, json=guess, headers=attacker.headers)
    assert codes == [401, 401, 401, 429]
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["RateLimit-Limit"] == "3"
    # From a second address the victim's e-mail still has only one slot left.
    async with client_for(configured, database, "198.51.100.9") as other:
        assert (await other.post(LOGIN, json=guess)).status_code == 401
        assert (await other.post(LOGIN, json=guess)).status_code == 429


async def test_ipv6_clients_share_their_64(settings: Settings, database: Database, prefix: str) -> None:
    configured = limited(
        settings, prefix, auth_limits=AuthLimits(per_address="2/minute", per_email="100/minute")
    )
    codes: list[int] = []
    for host in ("2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:2:abcd::3"):
        async with client_for(configured, database, host) as client:
            body = {"email": f"x{len(codes)}@example.com", "password": "guess guess 1"}
            codes.append((await client.post(LOGIN, json=body)).status_code)
    assert codes == [401, 401, 429]


async def test_an_oversized_sign_in_body_is_refused_before_it_is_parsed(
    settings: Settings, database: Database, prefix: str
) -> None:
    configured = limited(settings, prefix)
    async with client_for(configured, database) as client:
        huge = await client.post(LOGIN, content=b'{"email": "' + b"a" * 10_000 + b'"}')
    assert huge.status_code == 413
    assert huge.headers["content-type"] == "application/problem+json"


async def test_password_reset_by_a_single_use_expiring_link(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, database: Database, settings: Settings
) -> None:
    account = await sign_up()
    for email in (account.email, "nobody@example.com"):
        asked = await client.post("/api/v1/auth/password/forgot", json={"email": email})
        assert asked.status_code == 202
    # Nothing goes to an address without an account.
    (mail,) = await _mails(database, settings, "reset-password?token=")
    assert mail["to"] == account.email
    token = _token(mail)
    short = await client.post(
        "/api/v1/auth/password/reset", json={"token": token, "new_password": "too short"}
    )
    assert short.status_code == 422
    body = {"token": token, "new_password": NEW_PASSWORD}
    assert (await client.post("/api/v1/auth/password/reset", json=body)).status_code == 204
    assert (await client.post("/api/v1/auth/password/reset", json=body)).status_code == 401  # spent
    # Every old session is over; the new password signs in, the old one does not.
    assert (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token})
    ).status_code == 401
    assert (await client.post(LOGIN, json={"email": account.email, "password": PASSWORD})).status_code == 401
    assert (
        await client.post(LOGIN, json={"email": account.email, "password": NEW_PASSWORD})
    ).status_code == 200


async def test_an_expired_reset_link_is_refused(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, database: Database, settings: Settings
) -> None:
    account = await sign_up()
    await client.post("/api/v1/auth/password/forgot", json={"email": account.email})
    (mail,) = await _mails(database, settings, "reset-password?token=")
    await session.execute(
        update(AccountToken)
        .where(AccountToken.user_id == account.id)
        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    body = {"token": _token(mail), "new_password": NEW_PASSWORD}
    assert (await client.post("/api/v1/auth/password/reset", json=body)).status_code == 401


async def test_password_change_needs_the_current_one_and_ends_every_session(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    account = await sign_up()
    wrong = {"current_password": "not the password", "new_password": NEW_PASSWORD}
    refused = await client.post("/api/v1/me/password", json=wrong, headers=account.headers)
    assert refused.status_code == 422, "signed in: the typed password is wrong, not the session"
    (error,) = refused.json()["errors"]
    assert error == {"field": "current_password", "message": "The current password is wrong"}
    short = {"current_password": PASSWORD, "new_password": "short"}
    assert (await client.post("/api/v1/me/password", json=short, headers=account.headers)).status_code == 422
    right = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert (await client.post("/api/v1/me/password", json=right, headers=account.headers)).status_code == 204
    live = await session.scalar(
        select(func.count())
        .select_from(RefreshToken)
        .where(RefreshToken.user_id == account.id, RefreshToken.revoked_at.is_(None))
    )
    assert live == 0
    assert (
        await client.post(LOGIN, json={"email": account.email, "password": NEW_PASSWORD})
    ).status_code == 200


async def test_deactivation_closes_the_account(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    account = await sign_up()
    wrong = await client.post(
        "/api/v1/me/deactivate", json={"password": "not the password"}, headers=account.headers
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "password"
    done = await client.post("/api/v1/me/deactivate", json={"password": PASSWORD}, headers=account.headers)
    assert done.status_code == 204
    assert (await client.post(LOGIN, json={"email": account.email, "password": PASSWORD})).status_code == 401
    assert (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token})
    ).status_code == 401


@pytest.mark.parametrize(
    "path", ["/api/v1/auth/login", "/api/v1/auth/signup", "/api/v1/auth/password/forgot"]
)
async def test_account_routes_ignore_the_token_when_counting(
    settings: Settings, database: Database, prefix: str, sign_up: SignUp, path: str
) -> None:
    """A token of one's own does not move an account route onto the signed-in tier."""
    account = await sign_up()
    configured = limited(settings, prefix, auth_limits=AuthLimits(per_address="1/minute"))
    async with client_for(configured, database, "192.0.2.44") as client:
        body = _signup("probe@example.com")
        first = await client.post(path, json=body, headers=account.headers)
        second = await client.post(path, json=body, headers=account.headers)
    assert first.status_code != 429
    assert second.status_code == 429
    assert isinstance(second, httpx.Response)
