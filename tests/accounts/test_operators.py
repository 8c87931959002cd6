"""Operators by application: an operator account claims nothing until an admin approved it."""

from __future__ import annotations

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.models import User
from ftw.core.audit import AuditEntry
from tests.conftest import PASSWORD, SignUp


async def _admin(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> tuple[int, dict[str, str]]:
    admin = await sign_up()
    await session.execute(update(User).where(User.id == admin.id).values(role="admin"))
    tokens = await client.post("/api/v1/auth/login", json={"email": admin.email, "password": PASSWORD})
    return admin.id, {"Authorization": f"Bearer {tokens.json()['access_token']}"}


async def test_a_fresh_operator_cannot_claim_until_an_admin_approves(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    """The attack: sign up as an operator and claim a county at once (then read its bids)."""
    applicant = await sign_up("operator", approved=False)
    refused = await client.post("/api/v1/territories/36061/claim", headers=applicant.headers)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "approval" in refused.json()["detail"]

    admin_id, admin = await _admin(client, sign_up, session)
    assert (await client.get("/api/v1/admin/operators", headers=applicant.headers)).status_code == 403
    waiting = await client.get("/api/v1/admin/operators", headers=admin)
    assert applicant.id in [a["id"] for a in waiting.json()["items"]]
    approved = await client.post(f"/api/v1/admin/operators/{applicant.id}/approve", headers=admin)
    assert approved.status_code == 200, approved.text
    assert approved.json()["operator_approved_at"] is not None
    entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "operator.approved"))
    assert entry is not None
    assert (entry.actor_id, entry.target) == (admin_id, f"user:{applicant.id}")

    claimed = await client.post("/api/v1/territories/36061/claim", headers=applicant.headers)
    assert claimed.status_code == 200, claimed.text


async def test_only_operator_accounts_are_approved_as_operators(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    _, admin = await _admin(client, sign_up, session)
    homeowner = await sign_up()
    refused = await client.post(f"/api/v1/admin/operators/{homeowner.id}/approve", headers=admin)
    assert refused.status_code == 422


async def test_a_refused_application_closes_the_applicant_account(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    applicant = await sign_up("operator", approved=False)
    admin_id, admin = await _admin(client, sign_up, session)
    refused = await client.post(f"/api/v1/admin/operators/{applicant.id}/refuse", headers=admin)
    assert refused.status_code == 200, refused.text
    entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "operator.refused"))
    assert entry is not None
    assert (entry.actor_id, entry.target) == (admin_id, f"user:{applicant.id}")
    waiting = await client.get("/api/v1/admin/operators", headers=admin)
    assert applicant.id not in [a["id"] for a in waiting.json()["items"]]
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": applicant.refresh_token})
    assert again.status_code == 401, "its sessions are over"
    login = await client.post("/api/v1/auth/login", json={"email": applicant.email, "password": PASSWORD})
    assert login.status_code == 401

    approved = await sign_up("operator")
    late = await client.post(f"/api/v1/admin/operators/{approved.id}/refuse", headers=admin)
    assert late.status_code == 409, "an approved operator is not refused after the fact"
