"""Territories: the county list, and claiming one (race-safe, first claims free)."""

from __future__ import annotations

import csv
import functools
from datetime import UTC, datetime, timedelta
from importlib import resources

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.models import Role, User
from ftw.billing import charges
from ftw.billing.ledger import Kind
from ftw.billing.models import Account, PaymentPurpose
from ftw.billing.schemas import DEFAULT_METHOD
from ftw.config import Settings
from ftw.core import cache
from ftw.core.errors import Conflict, Forbidden, NotFound
from ftw.core.pagination import Keyset, PageParams
from ftw.integrations.payments import Payments
from ftw.territories.models import Territory
from ftw.territories.pricing import band_for
from ftw.territories.schemas import ClaimOut, TerritoryOut, TerritoryPage

# Serialises claims so the count of earlier claims (for the free-claim promotion) is exact.
_CLAIM_LOCK = 0x46545754  # "FTWT"

MONTHLY_CYCLE = timedelta(days=30)  # a claimed county's monthly fee falls due every 30 days

# A claim is charged once: a charge whose outcome was unknown is tried again by the next
# claim under its own key (the provider returns the first result), a declined one under the next.
CLAIMING = charges.Terms(
    when_down=charges.Down.HOLD,
    declined="{reason}; the county was not claimed",
    down="The payments provider is not answering; claim again in a few minutes (you will be charged once)",
    changed="An earlier claim's charge is still being settled; try again in a few minutes",
)


def load_counties() -> list[tuple[str, str, str, int]]:
    """The shipped county list (see territories/data/SOURCE.md)."""
    source = resources.files("ftw.territories") / "data" / "counties.csv"
    with source.open(encoding="utf-8") as handle:
        return [(r["fips"], r["state"], r["name"], int(r["population"])) for r in csv.DictReader(handle)]


async def ensure_loaded(*, session: AsyncSession) -> int:
    """Insert the counties once; safe to run again. Returns how many exist."""
    count = await session.scalar(select(func.count()).select_from(Territory))
    if not count:
        rows = load_counties()
        await session.execute(
            insert(Territory),
            [{"fips": f, "state": s, "name": n, "population": p} for f, s, n, p in rows],
        )
        count = len(rows)
    return int(count or 0)


def present(territory: Territory, settings: Settings) -> TerritoryOut:
    band = band_for(territory.population, settings.territories)
    return TerritoryOut(
        fips=territory.fips,
        state=territory.state,
        name=territory.name,
        population=territory.population,
        rurality=band.name,
        claim_price_cents=band.claim_price_cents
        if territory.claim_price_cents is None
        else territory.claim_price_cents,
        monthly_cents=band.monthly_cents if territory.monthly_cents is None else territory.monthly_cents,
        claimed=territory.operator_id is not None,
        operator_id=territory.operator_id,
        claimed_at=territory.claimed_at,
    )


async def get(*, session: AsyncSession, fips: str) -> Territory:
    territory = await session.get(Territory, fips)
    if territory is None:
        raise NotFound(f"No county with FIPS {fips}")
    return territory


async def of_operator(*, session: AsyncSession, operator_id: int) -> Territory | None:
    """The territory ``operator_id`` runs, if any."""
    territory: Territory | None = await session.scalar(
        select(Territory).where(Territory.operator_id == operator_id)
    )
    return territory


async def claims_made(*, session: AsyncSession) -> int:
    """How many territories have been claimed so far (the free-claim promotion counts them)."""
    return await session.scalar(select(func.count()).where(Territory.claim_number.is_not(None))) or 0


async def find(*, session: AsyncSession, name: str, state: str | None, limit: int) -> list[Territory]:
    """Counties whose name starts with ``name`` (in ``state`` when given), most populous first."""
    pattern = name.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    query = select(Territory).where(Territory.name.ilike(pattern, escape="\\"))
    if state:
        query = query.where(Territory.state == state.strip().upper())
    return list(await session.scalars(query.order_by(Territory.population.desc()).limit(limit)))


_PRESENTED = (
    "fips",
    "state",
    "name",
    "population",
    "claim_price_cents",
    "monthly_cents",
    "operator_id",
    "claimed_at",
)


@functools.cache
def _pages(*, state: bool, unclaimed: bool | None) -> Keyset:
    """The county list's pager for one combination of filters, by FIPS code."""
    query = select(*Territory.__table__.c[_PRESENTED])
    if state:
        query = query.where(Territory.state == bindparam("state"))
    if unclaimed is True:
        query = query.where(Territory.operator_id.is_(None))
    elif unclaimed is False:
        query = query.where(Territory.operator_id.is_not(None))
    return Keyset(query, Territory.fips)


LISTING = "territories"  # the cache version of every territory page and detail


async def browse(
    *,
    cache_: cache.Cache,
    session: AsyncSession,
    settings: Settings,
    state: str | None,
    unclaimed: bool | None,
    page: PageParams,
) -> TerritoryPage:
    """One page of the county list, through the cache until a claim changes territories."""

    async def load(s: AsyncSession) -> TerritoryPage:
        pages = _pages(state=bool(state), unclaimed=unclaimed)
        rows, next_cursor = await pages.page(s, page.cursor, page.limit, state=(state or "").upper())
        items = [present(Territory(**dict(row)), settings) for row in rows]
        return TerritoryPage(items=items, next_cursor=next_cursor)

    key = f"territories:{(state or '').upper()}:{unclaimed}:{page.limit}:{page.cursor or ''}"
    return await cache_.fetch("territory_metrics", key, TerritoryPage, load, session=session, version=LISTING)


async def detail(
    *, cache_: cache.Cache, session: AsyncSession, settings: Settings, fips: str
) -> TerritoryOut:
    async def load(s: AsyncSession) -> TerritoryOut:
        return present(await get(session=s, fips=fips), settings)

    return await cache_.fetch(
        "territory_metrics", f"territory:{fips}", TerritoryOut, load, session=session, version=LISTING
    )


async def claim(
    *,
    session: AsyncSession,
    settings: Settings,
    fips: str,
    operator_id: int,
    payments: Payments | None = None,
    payment_method: str = DEFAULT_METHOD,
) -> ClaimOut:
    """Claim a county for an approved operator. Past the free claims its price is charged
    through ``payments`` first (the claim is made only once the charge succeeded) and its
    monthly fee recorded as due a month on."""
    operator = await session.get(User, operator_id)
    if operator is None or operator.role not in (Role.OPERATOR, Role.ADMIN):
        raise Forbidden("Only an operator may claim a territory")
    if operator.role == Role.OPERATOR and operator.operator_approved_at is None:
        raise Forbidden(
            "Your operator application awaits an admin's approval; you can claim a county after it"
        )
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CLAIM_LOCK})
    territory = await get(session=session, fips=fips)
    held = await session.scalar(select(func.count()).where(Territory.operator_id == operator_id))
    if held and held >= settings.territories.territories_per_operator:
        raise Conflict("You already run a territory")
    earlier = await session.scalar(select(func.count()).where(Territory.claim_number.is_not(None))) or 0
    number = earlier + 1
    band = band_for(territory.population, settings.territories)
    free = number <= settings.territories.free_claims
    if territory.operator_id is not None:
        raise Conflict(f"{territory.name}, {territory.state} is already claimed")
    payment = None
    if not free:
        if payments is None:
            raise Conflict("This claim has a price and no payments provider was given")
        charge = charges.Charge(
            purpose=PaymentPurpose.CLAIM,
            payer_id=operator_id,
            amount_cents=band.claim_price_cents,
            fee_cents=band.claim_price_cents,
            payment_method=payment_method,
            description=f"Territory claim {territory.name}, {territory.state}",
            booking=charges.Booking(Kind.CLAIM, Account.PLATFORM),
        )
        pending = await charges.earlier(session, charge, CLAIMING)
        payment = await charges.take(
            session, settings=settings, payments=payments, charge=charge, terms=CLAIMING, earlier=pending
        )
    now = datetime.now(UTC)
    try:
        async with session.begin_nested():
            claimed = await session.scalar(
                update(Territory)
                .where(Territory.fips == fips, Territory.operator_id.is_(None))
                .values(
                    operator_id=operator_id,
                    claimed_at=now,
                    claim_number=number,
                    claim_price_cents=0 if free else band.claim_price_cents,
                    monthly_cents=band.monthly_cents,
                    monthly_due_at=now + MONTHLY_CYCLE,
                )
                .returning(Territory)
            )
    except IntegrityError as exc:  # the operator's other claim committed first
        raise Conflict("You already run a territory") from exc
    if claimed is None:
        raise Conflict(f"{territory.name}, {territory.state} is already claimed")
    cache.changed(session, LISTING)
    await session.refresh(claimed)
    out = present(claimed, settings)
    return ClaimOut(
        **out.model_dump(),
        claim_number=number,
        free_claim=free,
        monthly_due_at=claimed.monthly_due_at,
        payment_id=payment.id if payment is not None else None,
    )
