"""Pages anyone may open: the start page, a county's open jobs, a job, a contractor."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from ftw.accounts.models import Role
from ftw.bids import flows
from ftw.bids import service as bids
from ftw.core.pagination import PageParams
from ftw.core.replicas import ReadKind
from ftw.core.security import AccessClaims
from ftw.core.validation import Id, NoNul
from ftw.jobs import service as jobs
from ftw.jobs.schemas import JobFilters, JobPage, JobSummary
from ftw.reviews import service as reviews
from ftw.scoping.estimator import JobSize
from ftw.scoping.trades import Trade
from ftw.territories import service as territories
from ftw.territories.geography import county_for_zip
from ftw.territories.schemas import TerritoryOut
from ftw.web.forms import FormInvalid, parse
from ftw.web.page import AnyPage, Page

router = APIRouter(include_in_schema=False)

TRADES = [(t.value, t.value.replace("_", " ").capitalize()) for t in Trade]
SIZES = [(s.value, s.value.capitalize()) for s in JobSize]
BID_SORTS = {"price": "Lowest price", "rating": "Best rated", "time": "Newest"}


class Filters(BaseModel):
    """A job list's filters, as the board's form sends them ('' means any)."""

    q: Annotated[str, NoNul] = Field(default="", max_length=200)
    trade: Trade | None = None
    size: JobSize | None = None
    urgent: bool | None = None
    cursor: str | None = Field(default=None, max_length=200)


def filters_of(values: dict[str, str]) -> tuple[Filters, dict[str, str]]:
    """The filters, and the message of each one that makes no sense (then ignored)."""
    cleaned = {k: v for k, v in values.items() if v != ""}
    try:
        return parse(Filters, cleaned), {}
    except FormInvalid as exc:
        return Filters(), exc.errors


async def job_list(page: Page, fips: str, filters: Filters) -> tuple[list[JobSummary], str | None]:
    """A county's open jobs: searched (best match first) or browsed through the cache (newest first)."""
    narrowed = JobFilters(territory=fips, size=filters.size, trade=filters.trade, urgent=filters.urgent)
    rows = page.rows(filters.cursor)
    async with page.reading(ReadKind.BROWSE) as s:
        if len(filters.q.strip()) >= 2:
            return await jobs.search(session=s, text_query=filters.q.strip(), filters=narrowed, page=rows)
        raw = await jobs.browse_territory(
            cache_=page.request.app.state.cache, session=s, filters=narrowed, page=rows
        )
    listed = JobPage.model_validate_json(raw)
    return listed.items, listed.next_cursor


async def county(page: Page, fips: str) -> TerritoryOut:
    async with page.reading(ReadKind.BROWSE) as s:
        return await territories.detail(
            cache_=page.request.app.state.cache, session=s, settings=page.settings, fips=fips
        )


@router.get("/")
async def landing(page: AnyPage) -> Response:
    return page.render("landing.html", where="", matches=[])


_STATE = re.compile(r"^(?P<name>[^,]+?)(?:,\s*(?P<state>[A-Za-z]{2}))?$")


@router.get("/search")
async def search(page: AnyPage, where: Annotated[str, Query(max_length=120)] = "") -> Response:
    """A ZIP code goes to its county; a county name ("Kings" or "Kings, NY") to the one it names."""
    text = where.strip().replace("\x00", "")
    if re.fullmatch(r"\d{5}", text):
        fips = county_for_zip(text)
        if fips is not None:
            return page.redirect(f"/counties/{fips}")
        return _landing(page, text, "We do not know this ZIP code. Try your county's name.")
    found = _STATE.match(text)
    if len(text) < 3 or found is None:
        return _landing(page, text, "Enter a 5-digit ZIP code or a county name, like Kings, NY")
    async with page.reading(ReadKind.BROWSE) as s:
        matches = await territories.find(session=s, name=found["name"], state=found["state"], limit=20)
    if len(matches) == 1:
        return page.redirect(f"/counties/{matches[0].fips}")
    if not matches:
        return _landing(page, text, f"No county is called {text}. Check the spelling or use a ZIP code.")
    return page.render("landing.html", where=text, matches=matches)


def _landing(page: Page, where: str, error: str) -> Response:
    return page.render("landing.html", status=422, where=where, matches=[], errors={"where": error})


@router.get("/counties/{fips}")
async def county_jobs(
    page: AnyPage,
    fips: Annotated[str, Path(pattern=r"^\d{5}$")],
    q: str = "",
    trade: str = "",
    size: str = "",
    urgent: str = "",
    cursor: str = "",
) -> Response:
    values = {"q": q, "trade": trade, "size": size, "urgent": urgent, "cursor": cursor}
    return await listing(page, fips, values, template="county.html")


async def listing(
    page: Page, fips: str, values: dict[str, str], *, template: str, errors: dict[str, str] | None = None
) -> Response:
    territory = await county(page, fips)
    filters, wrong = filters_of(values)
    claims = None
    if page.viewer is not None and page.viewer.role == Role.OPERATOR and not territory.claimed:
        async with page.reading() as s:
            claims = await territories.claims_made(session=s)
    items, next_cursor = await job_list(page, fips, filters)
    more = page.more(next_cursor)
    return page.render(
        template,
        territory=territory,
        jobs=items,
        more=more,
        values={k: v for k, v in values.items() if k != "cursor"},
        errors={**wrong, **(errors or {})},
        claims=claims,
        free_claims=page.settings.territories.free_claims,
        trades=TRADES,
        sizes=SIZES,
    )


NOTICES = {
    "posted": "Your job is posted and scoped: the estimate is below. Contractors in the county see it now.",
    "paid": "Paid. The payment is held until you mark the job complete.",
    "boosted": "Boosted: your bid shows above the others for the next hours.",
    "pending": "The payment provider is not answering: we retry the charge and award the job once paid.",
}


@router.get("/jobs/{job_id}")
async def job(page: AnyPage, job_id: Id, sort: str = "", done: str = "") -> Response:
    return await job_page(page, job_id, sort=sort, notice=NOTICES.get(done, ""))


async def job_page(
    page: Page,
    job_id: int,
    *,
    sort: str = "",
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
    notice: str = "",
) -> Response:
    """A job as its viewer may see it: everyone the public part; its homeowner all its bids;
    a contractor its own bid, the band a bid must keep to, and the bid form."""
    viewer = page.viewer
    context: dict[str, Any] = {"sort": sort if sort in BID_SORTS else "", "sorts": BID_SORTS}
    # The viewer's own records on the primary (it reads what it just wrote); strangers a replica.
    async with page.reading(ReadKind.BROWSE if viewer is None else ReadKind.OWN) as s:
        shown = await jobs.detail(session=s, storage=page.request.app.state.storage, job_id=job_id)
        owner = viewer is not None and viewer.user_id == shown.homeowner_id
        territory = await territories.get(session=s, fips=shown.territory_fips)
        if owner and viewer is not None:
            context |= await bid_list(s, viewer, job_id, context["sort"])
            context["review"] = await reviews.of_job(session=s, job_id=job_id)
        elif viewer is not None and viewer.role == Role.CONTRACTOR:
            mine, _ = await bids.of_job(
                session=s, principal=viewer, job_id=job_id, status=None, page=page.rows(limit=20)
            )
            context["my_bids"] = mine
            context["band"] = bids.amount_range(await jobs.get(session=s, job_id=job_id), page.settings.bids)
            accepted = await flows.accepted_bid(s, job_id)
            context["mine_accepted"] = accepted is not None and accepted.contractor_id == viewer.user_id
    if not owner:
        page.request.app.state.views.seen(job_id)  # counted in memory, written in batches
    return page.render(
        "job.html",
        status=status,
        job=shown,
        territory=territory,
        owner=owner,
        notice=notice,
        errors=errors or {},
        values=values or {},
        message_min=page.settings.bids.message_min,
        boost_price=page.settings.fees.boost_price_cents,
        boost_hours=page.settings.bids.boost_hours,
        **context,
    )


async def bid_list(s: AsyncSession, viewer: AccessClaims, job_id: int, sort: str) -> dict[str, Any]:
    """The job's bids for its homeowner, with each bidder's name and rating, sorted as asked."""
    listed, _ = await bids.of_job(
        session=s, principal=viewer, job_id=job_id, status=None, page=PageParams(None, 100)
    )
    people = await reviews.bidders(session=s, contractor_ids=sorted({b.contractor_id for b in listed}))
    if sort == "price":
        listed.sort(key=lambda b: (b.amount_cents, b.id))
    elif sort == "rating":
        listed.sort(key=lambda b: (-people[b.contractor_id].rating_avg, b.amount_cents))
    elif sort == "time":
        listed.sort(key=lambda b: b.created_at, reverse=True)
    return {"bids": listed, "bidders": people}


@router.get("/contractors/{contractor_id}")
async def contractor(page: AnyPage, contractor_id: Id) -> Response:
    async with page.reading(ReadKind.BROWSE) as s:
        profile = await reviews.profile(session=s, contractor_id=contractor_id)
        listed, _ = await reviews.of_contractor(
            session=s, contractor_id=contractor_id, page=page.rows(limit=20)
        )
    return page.render("contractor.html", profile=profile, reviews=listed)
