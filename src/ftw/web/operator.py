"""An operator's pages: claiming a county, and the county's dashboard."""

from __future__ import annotations

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
from ftw.territories import service as territories
from ftw.web.forms import FormInvalid, card_method
from ftw.web.page import OperatorPage
from ftw.web.public import listing

router = APIRouter(include_in_schema=False)

Fips = Annotated[str, Path(pattern=r"^\d{5}$")]
DAYS = 30


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


@router.get("/territory")
async def territory(page: OperatorPage) -> Response:
    """The operator's county: figures of the last 30 days, day by day, and its open jobs."""
    async with page.reading() as s:
        mine = await territories.of_operator(session=s, operator_id=page.user.user_id)
    if mine is None:
        return page.render("territory_none.html")
    async with page.reading(ReadKind.ANALYTICS) as s:
        figures = await analytics.territory_figures(session=s, principal=page.user, fips=mine.fips, days=DAYS)
    async with page.reading(ReadKind.BROWSE) as s:
        open_jobs, _ = await jobs.browse(
            session=s, territory=mine.fips, homeowner_id=None, status=JobStatus.OPEN,
            size=None, trade=None, urgent=None, cursor=None, limit=20,
        )  # fmt: skip
    days = list(reversed(figures.daily))  # oldest first, as a chart reads
    peak = max([1, *(max(d.jobs_posted, d.bids) for d in days)])
    return page.render(
        "territory.html", territory=mine, figures=figures, days=days, peak=peak, jobs=open_jobs
    )
