"""The county list, rurality pricing, and claiming a territory."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ftw.accounts.models import Role, User
from ftw.billing import ledger
from ftw.billing.models import Account, Payment
from ftw.billing.payments import PaymentRequired
from ftw.config import Settings, TerritoryPolicy
from ftw.core.errors import Conflict
from ftw.core.security import hash_password
from ftw.integrations.payments import SandboxPayments
from ftw.territories import service
from ftw.territories.models import Territory
from tests.conftest import SignUp


async def test_every_us_county_is_loaded(session: AsyncSession) -> None:
    rows = (await session.execute(select(Territory.fips, Territory.population))).all()
    assert len(rows) == 3142
    assert sum(p for _, p in rows) > 320_000_000
    assert len({f[:2] for f, _ in rows}) == 51  # 50 states and DC


@pytest.mark.parametrize(
    ("fips", "rurality", "claim_cents", "monthly_cents"),
    [
        ("48301", "rural", 250_000, 9_900),  # Loving County, TX: about 170 people
        ("01015", "small", 500_000, 19_900),  # Calhoun County, AL: 113,605
        ("01003", "medium", 1_000_000, 39_900),  # Baldwin County, AL: 223,234
        ("06037", "metro", 2_500_000, 79_900),  # Los Angeles County, CA
    ],
)
async def test_rurality_and_claim_price_follow_population(
    client: httpx.AsyncClient, fips: str, rurality: str, claim_cents: int, monthly_cents: int
) -> None:
    response = await client.get(f"/api/v1/territories/{fips}")
    assert response.status_code == 200
    body = response.json()
    assert (body["rurality"], body["claim_price_cents"], body["monthly_cents"]) == (
        rurality,
        claim_cents,
        monthly_cents,
    )
    assert body["claimed"] is False


async def test_unknown_or_malformed_county_is_404_or_422(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/territories/99999")).status_code == 404
    bad = await client.get("/api/v1/territories/abc")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "fips"


async def test_browse_pages_through_a_state_without_gaps(client: httpx.AsyncClient) -> None:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"state": "de", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/territories", params=params)).json()
        seen += [t["fips"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["10001", "10003", "10005"]  # Delaware's three counties, in order


async def _operator(session: AsyncSession, email: str) -> User:
    """An operator an admin approved."""
    user = User(
        email=email, password_hash=hash_password("irrelevant-here"), full_name="Op", role=Role.OPERATOR.value,
        referral_code=email[:8].upper(), operator_approved_at=datetime.now(UTC),
    )  # fmt: skip
    session.add(user)
    await session.flush()
    return user


async def test_operator_claims_a_county_free_within_the_first_claims(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    operator = await sign_up("operator")
    claimed = await client.post("/api/v1/territories/48301/claim", headers=operator.headers)
    assert claimed.status_code == 200, claimed.text
    body = claimed.json()
    assert body["operator_id"] == operator.id
    assert body["claimed"] is True
    assert body["free_claim"] is True
    assert body["claim_price_cents"] == 0
    assert body["monthly_cents"] == 9_900
    listed = (await client.get("/api/v1/territories", params={"state": "TX", "unclaimed": "false"})).json()
    assert [t["fips"] for t in listed["items"]] == ["48301"]


async def test_claims_past_the_free_allowance_pay_the_band_price(
    session: AsyncSession, settings: Settings
) -> None:
    policy = TerritoryPolicy(free_claims=1)
    priced = settings.model_copy(update={"territories": policy})
    first, second = (
        await _operator(session, "op-one@example.com"),
        await _operator(session, "op-two@example.com"),
    )
    sandbox = SandboxPayments()
    one = await service.claim(
        session=session, settings=priced, fips="48301", operator_id=first.id, payments=sandbox
    )
    two = await service.claim(
        session=session, settings=priced, fips="06037", operator_id=second.id, payments=sandbox
    )
    assert (one.free_claim, one.claim_price_cents, one.payment_id) == (True, 0, None)
    assert (two.free_claim, two.claim_price_cents) == (False, 2_500_000)
    # Charged through the payments adapter, into the platform's revenue; the monthly fee is due.
    payment = await session.get(Payment, two.payment_id)
    assert payment is not None
    assert (payment.purpose, payment.status, payment.amount_cents) == ("claim", "succeeded", 2_500_000)
    assert await sandbox.find_charge(idempotency_key=payment.idempotency_key) is not None
    platform = await ledger.balance(session, account=Account.PLATFORM, owner_id=None)
    assert platform >= 2_500_000
    assert two.monthly_due_at is not None
    assert two.monthly_due_at > datetime.now(UTC)


async def test_a_paid_claim_with_a_declined_card_claims_nothing(
    session: AsyncSession, settings: Settings
) -> None:
    """The attack: a script claiming counties past the free ones without paying."""
    priced = settings.model_copy(update={"territories": TerritoryPolicy(free_claims=0)})
    operator = await _operator(session, "op-broke@example.com")
    with pytest.raises(PaymentRequired):
        await service.claim(
            session=session, settings=priced, fips="06037", operator_id=operator.id,
            payments=SandboxPayments(), payment_method="pm_card_declined",
        )  # fmt: skip
    held = await session.scalar(select(Territory.operator_id).where(Territory.fips == "06037"))
    assert held is None


async def test_a_claimed_county_and_a_second_county_are_conflicts(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    first, second = await sign_up("operator"), await sign_up("operator")
    assert (await client.post("/api/v1/territories/48301/claim", headers=first.headers)).status_code == 200
    taken = await client.post("/api/v1/territories/48301/claim", headers=second.headers)
    assert taken.status_code == 409
    assert "already claimed" in taken.json()["detail"]
    another = await client.post("/api/v1/territories/06037/claim", headers=first.headers)
    assert another.status_code == 409
    assert "already run a territory" in another.json()["detail"]


async def test_only_operators_claim(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    homeowner, contractor = await sign_up("homeowner"), await sign_up("contractor")
    assert (await client.post("/api/v1/territories/48301/claim")).status_code == 401
    assert (
        await client.post("/api/v1/territories/48301/claim", headers=homeowner.headers)
    ).status_code == 403
    assert (
        await client.post("/api/v1/territories/48301/claim", headers=contractor.headers)
    ).status_code == 403


async def test_two_operators_racing_for_one_county_one_wins(engine: AsyncEngine, settings: Settings) -> None:
    """Real concurrent transactions on separate connections, committed, then cleaned up."""
    async with AsyncSession(engine, expire_on_commit=False) as setup:
        ops = [await _operator(setup, f"racer{i}@example.com") for i in range(2)]
        await setup.commit()

    async def attempt(operator_id: int) -> str:
        async with AsyncSession(engine) as s:
            try:
                await service.claim(session=s, settings=settings, fips="02013", operator_id=operator_id)
                await s.commit()
                return "won"
            except Conflict:
                await s.rollback()
                return "lost"

    try:
        outcomes = await asyncio.gather(*(attempt(op.id) for op in ops))
        assert sorted(outcomes) == ["lost", "won"]
        async with AsyncSession(engine) as check:
            holder = await check.scalar(select(Territory.operator_id).where(Territory.fips == "02013"))
        assert holder in {op.id for op in ops}
    finally:
        async with AsyncSession(engine) as cleanup:
            await cleanup.execute(
                update(Territory)
                .where(Territory.fips == "02013")
                .values(
                    operator_id=None,
                    claimed_at=None,
                    claim_number=None,
                    claim_price_cents=None,
                    monthly_cents=None,
                )
            )
            await cleanup.execute(delete(User).where(User.id.in_([op.id for op in ops])))
            await cleanup.commit()
