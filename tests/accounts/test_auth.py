"""Sign-up, log-in, refresh rotation, log-out and who may call what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import argon2
import httpx
import jwt
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.auth import access_of
from ftw.accounts.models import RefreshToken, User
from ftw.app import ROUTERS
from ftw.config import Settings
from ftw.core.db import Database
from tests.conftest import PASSWORD, SignUp, outlive_refresh_grace


def _signup_body(**overrides: object) -> dict[str, object]:
    return {
        "email": "Pat.Doe@Example.com",
        "password": PASSWORD,
        "full_name": "Pat Doe",
        "role": "contractor",
        "zip": "60601",
    } | overrides


async def test_signup_creates_an_account_in_the_zip_county(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    created = await client.post("/api/v1/auth/signup", json=_signup_body())
    assert created.status_code == 202
    assert "password" not in created.text
    user = await session.scalar(select(User).where(User.email == "pat.doe@example.com"))
    assert user is not None
    assert user.territory_fips == "17031"  # Cook County, IL
    assert user.role == "contractor"
    assert user.is_available is True
    assert user.email_verified_at is None  # until the e-mailed link is followed


async def test_password_is_stored_as_an_argon2_hash(client: httpx.AsyncClient, session: AsyncSession) -> None:
    await client.post("/api/v1/auth/signup", json=_signup_body())
    stored = await session.scalar(select(User.password_hash).where(User.email == "pat.doe@example.com"))
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"password": "short"}, "password"),
        ({"password": "eleven-char"}, "password"),  # 12 at least
        ({"role": "admin"}, "role"),
        ({"zip": "ABCDE"}, "zip"),
        ({"zip": "00000"}, "zip"),
        ({"full_name": ""}, "full_name"),
    ],
)
async def test_bad_signup_names_the_field_and_writes_nothing(
    client: httpx.AsyncClient, session: AsyncSession, overrides: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/v1/auth/signup", json=_signup_body(**overrides))
    assert response.status_code == 422
    problem = response.json()
    assert problem["status"] == 422
    assert field in [e["field"] for e in problem["errors"]]
    assert await session.scalar(select(func.count()).select_from(User)) == 0


async def test_referral_links_the_new_user_to_the_referrer(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    referrer = await sign_up("contractor")
    code = (await client.get("/api/v1/me", headers=referrer.headers)).json()["referral_code"]
    created = await client.post("/api/v1/auth/signup", json=_signup_body(referral_code=code.lower()))
    assert created.status_code == 202
    referred_by = await session.scalar(select(User.referred_by_id).where(User.email == "pat.doe@example.com"))
    assert referred_by == referrer.id


async def test_login_with_wrong_password_or_unknown_email_is_401(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    account = await sign_up()
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": "wrong password!"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_access_token_lasts_fifteen_minutes(
    client: httpx.AsyncClient, sign_up: SignUp, settings: Settings
) -> None:
    account = await sign_up()
    token = account.headers["Authorization"].split()[1]
    claims = jwt.decode(token, options={"verify_signature": False})
    lifetime = datetime.fromtimestamp(claims["exp"], UTC) - datetime.now(UTC)
    assert timedelta(minutes=14) < lifetime <= timedelta(minutes=settings.auth.access_token_minutes)


async def test_refresh_rotates_and_a_reused_token_revokes_the_session(
    client: httpx.AsyncClient, sign_up: SignUp, database: Database, settings: Settings
) -> None:
    account = await sign_up()
    first = await client.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token})
    assert first.status_code == 200
    rotated = first.json()["refresh_token"]
    assert rotated != account.refresh_token
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {first.json()['access_token']}"})
    assert me.status_code == 200

    await outlive_refresh_grace(database, settings)
    replay = await client.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token})
    assert replay.status_code == 401
    # The replay burned the whole family: the legitimately rotated token is dead too.
    after = await client.post("/api/v1/auth/refresh", json={"refresh_token": rotated})
    assert after.status_code == 401


async def test_a_token_presented_again_just_after_its_rotation_gets_a_session_of_its_own(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    """A browser's two requests that both found the access token expired send the same
    refresh token: the second, within the grace window, is not taken for a replay."""
    account = await sign_up()
    body = {"refresh_token": account.refresh_token}
    first, second = [await client.post("/api/v1/auth/refresh", json=body) for _ in range(2)]
    assert first.status_code == second.status_code == 200
    assert first.json()["refresh_token"] != second.json()["refresh_token"]
    for pair in (first, second):  # both are live sessions of the same family
        renewed = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": pair.json()["refresh_token"]}
        )
        assert renewed.status_code == 200
    tokens = (await session.scalars(select(RefreshToken).where(RefreshToken.user_id == account.id))).all()
    assert len({t.family_id for t in tokens}) == 1
    assert all(t.revoked_at is None for t in tokens)


async def test_the_grace_window_ends_and_a_replay_then_revokes_the_family(
    client: httpx.AsyncClient, sign_up: SignUp, database: Database, settings: Settings
) -> None:
    account = await sign_up()
    body = {"refresh_token": account.refresh_token}
    rotated = (await client.post("/api/v1/auth/refresh", json=body)).json()["refresh_token"]
    await outlive_refresh_grace(database, settings)
    assert (await client.post("/api/v1/auth/refresh", json=body)).status_code == 401
    after = await client.post("/api/v1/auth/refresh", json={"refresh_token": rotated})
    assert after.status_code == 401, "the replay after the window revoked the whole family"


async def test_a_revoked_token_gets_no_grace(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    account = await sign_up()
    body = {"refresh_token": account.refresh_token}
    rotated = (await client.post("/api/v1/auth/refresh", json=body)).json()["refresh_token"]
    assert (
        await client.post("/api/v1/auth/logout", json={"refresh_token": rotated, "everywhere": False})
    ).status_code == 204
    assert (await client.post("/api/v1/auth/refresh", json=body)).status_code == 401


async def test_expired_refresh_token_is_refused(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    account = await sign_up()
    token = await session.scalar(select(RefreshToken).where(RefreshToken.user_id == account.id))
    assert token is not None
    token.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    await session.flush()
    response = await client.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token})
    assert response.status_code == 401


async def test_sign_in_redoes_a_hash_made_with_older_parameters(
    client: httpx.AsyncClient, session: AsyncSession, sign_up: SignUp
) -> None:
    account = await sign_up()
    old = argon2.PasswordHasher().hash(PASSWORD)  # 64 MiB, 3 passes, 4 lanes
    await session.execute(update(User).where(User.id == account.id).values(password_hash=old))
    signed_in = await client.post("/api/v1/auth/login", json={"email": account.email, "password": PASSWORD})
    assert signed_in.status_code == 200
    stored = await session.scalar(select(User.password_hash).where(User.id == account.id))
    assert stored is not None
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    again = await client.post("/api/v1/auth/login", json={"email": account.email, "password": PASSWORD})
    assert again.status_code == 200


async def test_logout_revokes_the_refresh_token(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    account = await sign_up()
    out = await client.post("/api/v1/auth/logout", json={"refresh_token": account.refresh_token})
    assert out.status_code == 204
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token})
    assert again.status_code == 401


async def test_logout_everywhere_ends_every_session(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    account = await sign_up()
    second = await client.post("/api/v1/auth/login", json={"email": account.email, "password": PASSWORD})
    other_device = second.json()["refresh_token"]
    out = await client.post(
        "/api/v1/auth/logout", json={"refresh_token": account.refresh_token, "everywhere": True}
    )
    assert out.status_code == 204
    assert (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": other_device})
    ).status_code == 401


async def test_me_requires_a_valid_token(client: httpx.AsyncClient, settings: Settings) -> None:
    anonymous = await client.get("/api/v1/me")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    garbage = await client.get("/api/v1/me", headers={"Authorization": "Bearer not-a-token"})
    assert garbage.status_code == 401
    expired = jwt.encode(
        {"sub": "1", "role": "admin", "typ": "access", "exp": datetime.now(UTC) - timedelta(minutes=1)},
        settings.auth.secret_key.get_secret_value(),
        algorithm="HS256",
    )
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {expired}"})).status_code == 401
    forged = jwt.encode(
        {"sub": "1", "role": "admin", "typ": "access", "exp": datetime.now(UTC) + timedelta(minutes=5)},
        "someone-else's-secret-that-is-long-enough",
        algorithm="HS256",
    )
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"})).status_code == 401


async def test_profile_update_moves_the_user_to_the_new_county(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    account = await sign_up("contractor")
    moved = await client.patch(
        "/api/v1/me", headers=account.headers, json={"zip": "90012", "is_available": False}
    )
    assert moved.status_code == 200
    assert moved.json()["territory_fips"] == "06037"
    assert moved.json()["is_available"] is False


async def test_only_contractors_have_an_availability(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    account = await sign_up("homeowner")
    response = await client.patch("/api/v1/me", headers=account.headers, json={"is_available": True})
    assert response.status_code == 422


def test_every_api_route_declares_who_may_call_it() -> None:
    routes = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    assert len(routes) >= 15
    undeclared = [f"{sorted(r.methods or ())} {r.path}" for r in routes if access_of(r) is None]
    assert undeclared == []


async def test_openapi_names_the_bearer_scheme_on_routes_that_read_the_caller(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert schema["paths"]["/api/v1/me"]["get"]["security"] == [{"bearer": []}]
    assert schema["paths"]["/api/v1/auth/login"]["post"]["security"] == [{"bearer": []}]
