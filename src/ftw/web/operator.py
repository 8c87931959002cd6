"""An operator's pages: claiming a county, and the county's dashboard."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path
from starlette.responses import Response

from ftw.analytics import service as analytics
from ftw.billing.schemas import DEFAULT_METHOD
from ftw.core.errors import DomainError
from ftw.core.replicas import ReadKind
from ftw.core.switches import Name
from ftw.jobs import service as jobs
from ftw.jobs.models import JobStatus
from ftw.jobs.schemas import JobFilters
from ftw.territories import service as territories
from ftw.web.forms import FormInvalid, card_method
from ftw.web.page import Cursor, OperatorPage, dollars
from ftw.web.public import listing

router = APIRouter(include_in_schema=False)

Fips = Annotated[str, Path(pattern=r"^\d{5}$")]
DAYS = 30
PAGE = 20


@router.post("/counties/{fips}/claim")
async def claim(page: OperatorPage, fips: Fips) -> Response:
    """Claim the county (one per operator; the first claims are free, the rest charged to
    the card the form then asks for)."""
    card = page.field("card").strip()
    try:
        method = card_method(card) if card else DEFAULT_METHOD
        async with page.writing(Name.TERRITORY_CLAIMS) as s:
            if not card and await territories.claims_made(session=s) >= page.settings.territories.free_claims:
                raise FormInvalid({"card": "Enter the card number: this claim has a price"})
            await territories.claim(
                session=s, settings=page.settings, fips=fips, operator_id=page.user.user_id,
                payments=page.request.app.state.integrations.payments if card else None,
                payment_method=method,
            )  # fmt: skip
    except FormInvalid as exc:
        response = await listing(page, fips, {}, template="county.html", errors=exc.errors)
        response.status_code = 422
        return response
    except DomainError as exc:
        if exc.status in (401, 404):  # 403 here is an operator awaiting approval: said on the page
            raise
        response = await listing(page, fips, {}, template="county.html", errors={"form": exc.detail})
        response.status_code = exc.status
        return response
    return page.redirect("/territory")


@dataclass(frozen=True)
class Chart:
    """One figure per day as bars (server-rendered SVG, no chart library)."""

    key: str
    title: str
    bars: list[tuple[date, float, str]]  # day, height in % of the peak, what it says
    peak: str

    @classmethod
    def of(
        cls, key: str, title: str, points: list[tuple[date, float | None]], say: Callable[[float], str]
    ) -> Chart:
        top = max([0.0, *(v or 0.0 for _, v in points)])
        bars = [
            (d, round((v or 0.0) / top * 100, 1) if top else 0.0, say(v) if v is not None else "none")
            for d, v in points
        ]
        return cls(key, title, bars, say(top) if top else "")


def _minutes(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 5400 else f"{round(seconds / 60)} min"


@router.get("/territory")
async def territory(
    page: OperatorPage,
    status: JobStatus = JobStatus.OPEN,
    cursor: Cursor = "",
    after: Cursor = "",
) -> Response:
    """The operator's county: figures of the last 30 days day by day (jobs, bids, fees,
    response times), its contractors and its jobs by status, each list keyset-paged."""
    async with page.reading() as s:
        mine = await territories.of_operator(session=s, operator_id=page.user.user_id)
    if mine is None:
        return page.render("territory_none.html")
    async with page.reading(ReadKind.ANALYTICS) as s:
        figures = await analytics.territory_figures(session=s, principal=page.user, fips=mine.fips, days=DAYS)
        responses = await analytics.response_times(session=s, fips=mine.fips, days=DAYS)
        contractors, next_contractors = await analytics.county_contractors(
            session=s, fips=mine.fips, days=DAYS, page=page.rows(after, PAGE)
        )
    async with page.reading(ReadKind.BROWSE) as s:
        county_jobs, next_cursor = await jobs.browse(
            session=s, filters=JobFilters(status=status, territory=mine.fips), page=page.rows(cursor, PAGE)
        )
    days = list(reversed(figures.daily))  # oldest first, as a chart reads
    peak = max([1, *(max(d.jobs_posted, d.bids) for d in days)])
    charts = [
        Chart.of(
            "fees", "Platform fees per day", [(d.day, d.revenue_cents) for d in days],
            lambda cents: dollars(int(cents)),
        ),
        Chart.of(
            "response", "Median time to a job's first bid, by the day it was posted",
            [(r.day, r.median_first_bid_s) for r in responses], _minutes,
        ),
    ]  # fmt: skip
    more_contractors = page.more(next_contractors, "after")
    more_jobs = page.more(next_cursor)
    return page.render(
        "territory.html", territory=mine, figures=figures, days=days, peak=peak, charts=charts,
        contractors=contractors, more_contractors=more_contractors, jobs=county_jobs, more_jobs=more_jobs,
        job_status=status, statuses=list(JobStatus), minutes=_minutes,
    )  # fmt: skip
