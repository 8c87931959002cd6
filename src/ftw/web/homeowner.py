"""A homeowner's pages: the dashboard, posting a job, accepting and paying a bid,
marking the job complete and reviewing the work."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from ftw.accounts import service as accounts
from ftw.bids import flows
from ftw.bids import service as bids
from ftw.core import switches
from ftw.core.errors import DomainError, Forbidden
from ftw.core.switches import Name
from ftw.core.validation import Id
from ftw.jobs import service as jobs
from ftw.jobs.models import JobStatus, Urgency
from ftw.jobs.schemas import JobCreate, JobFilters
from ftw.messaging import service as messaging
from ftw.reviews import service as reviews
from ftw.reviews.schemas import ReviewIn
from ftw.web.forms import FormInvalid, card_method, parse, refusal
from ftw.web.page import HomeownerPage, HomeownerUploadPage, Page
from ftw.web.public import BID_SORTS, TRADES, bid_list, job_page

router = APIRouter(include_in_schema=False)
WEB_JOB_FORM = "/jobs/new"  # takes photos: the edge bounds its body as an upload

URGENCIES = [
    (Urgency.FLEXIBLE.value, "Flexible: whenever suits"),
    (Urgency.NORMAL.value, "Normal: within a few days"),
    (Urgency.URGENT.value, "Urgent: bids within 2 hours"),
]
DASHBOARD = (JobStatus.OPEN, JobStatus.AWARDED, JobStatus.IN_PROGRESS, JobStatus.COMPLETED)


@router.get("/dashboard")
async def dashboard(page: HomeownerPage) -> Response:
    """My jobs by status, unread messages, and what needs me: bids to compare, work to confirm."""
    viewer = page.user
    by_status = {}
    async with page.reading() as s:
        for status in DASHBOARD:
            by_status[status], _ = await jobs.browse(
                session=s,
                filters=JobFilters(status=status, homeowner_id=viewer.user_id),
                page=page.rows(limit=20),
            )
        unread = await messaging.unread_total(session=s, principal=viewer)
        waiting = await bids.pending_counts(session=s, job_ids=[j.id for j in by_status[JobStatus.OPEN]])
    needs_you = []
    for job in by_status[JobStatus.OPEN]:
        if count := waiting.get(job.id):
            needs_you.append((job, f"{count} bid{'s' if count > 1 else ''} to compare"))
    for job in by_status[JobStatus.IN_PROGRESS]:
        needs_you.append((job, "Mark complete when the work is done"))
    listed = {status.value: items for status, items in by_status.items()}
    return page.render("dashboard.html", by_status=listed, unread=unread, needs_you=needs_you)


@router.get("/jobs/new")
async def new_job_form(page: HomeownerPage) -> Response:
    async with page.reading() as s:
        me = await accounts.profile(session=s, user_id=page.user.user_id)
    values = {"zip": me.zip or "", "urgency": Urgency.NORMAL.value}
    return _job_form(page, values=values)


def _job_form(
    page: Page, *, values: dict[str, str], errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    return page.render(
        "job_new.html",
        status=status,
        values=values,
        errors=errors or {},
        trades=TRADES,
        urgencies=URGENCIES,
        rules=page.settings.jobs,
    )


@router.post(WEB_JOB_FORM)
async def post_job(page: HomeownerUploadPage) -> Response:
    """The job and its photos, written together or not at all; the photos are read one at a
    time as they arrive, after the form's fields."""
    rules = page.settings.jobs
    names = ("title", "description", "trade", "zip", "urgency")
    try:
        form = await page.upload(
            max_files=rules.max_photos, too_many_files=f"A job holds at most {rules.max_photos} photos"
        )
        await page.limit(tier=False, endpoint="post_job")
        data = parse(JobCreate, {k: v for k, v in _values(page, names).items() if v})
        if form.has_files:
            await switches.require(page.request, Name.PHOTO_UPLOADS)
        async with page.writing(Name.JOB_POSTING) as s:
            job = await jobs.post(
                session=s, settings=page.settings, homeowner_id=page.user.user_id, data=data
            )
            if form.has_files:
                await jobs.add_photos(
                    session=s, settings=page.settings, storage=page.request.app.state.storage,
                    principal=page.user, job_id=job.id, files=form.files(),
                )  # fmt: skip
    except FormInvalid as exc:
        return _job_form(page, values=_values(page, names), errors=exc.errors, status=422)
    except DomainError as exc:
        errors = refusal(exc, rename={"files": "photos"}).errors
        return _job_form(page, values=_values(page, names), errors=errors, status=exc.status)
    return page.redirect(f"/jobs/{job.id}?done=posted")


def _values(page: Page, names: tuple[str, ...]) -> dict[str, str]:
    return {name: page.field(name).strip() for name in names}


@router.get("/jobs/{job_id}/bids")
async def bids_fragment(page: HomeownerPage, job_id: Id, sort: str = "") -> Response:
    """The bid list alone, for htmx to refresh in place while the job is open."""
    sort = sort if sort in BID_SORTS else ""
    async with page.reading() as s:
        found = await jobs.get(session=s, job_id=job_id)
        listed = await bid_list(s, page.user, job_id, sort)
    return page.render("_bids.html", job=found, sort=sort, sorts=BID_SORTS, **listed)


@router.get("/bids/{bid_id}/pay")
async def pay_form(page: HomeownerPage, bid_id: Id) -> Response:
    return await _pay_page(page, bid_id)


async def _pay_page(
    page: Page,
    bid_id: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with page.reading() as s:
        bid = await bids.get(session=s, bid_id=bid_id)
        found = await jobs.get(session=s, job_id=bid.job_id)
        people = await reviews.bidders(session=s, contractor_ids=[bid.contractor_id])
    if found.homeowner_id != page.user.user_id:
        raise Forbidden("Only the homeowner who posted this job may accept its bids")
    fee = page.settings.fees.homeowner_platform_fee_cents
    return page.render(
        "pay.html",
        status=status,
        bid=bid,
        job=found,
        bidder=people.get(bid.contractor_id),
        fee=fee,
        total=bid.amount_cents + fee,
        errors=errors or {},
        values=values or {},
    )


@router.post("/bids/{bid_id}/pay")
async def pay(page: HomeownerPage, bid_id: Id) -> Response:
    """Accept the bid and charge bid + platform fee; the charge is keyed by the bid, so a
    second press of the button pays nothing twice."""
    values = {"card": page.field("card").strip()}
    try:
        method = card_method(values["card"])
        async with page.writing() as s:
            award = await flows.accept(
                session=s, settings=page.settings, payments=page.request.app.state.integrations.payments,
                principal=page.user, bid_id=bid_id, payment_method=method, client_key=None,
            )  # fmt: skip
    except FormInvalid as exc:
        return await _pay_page(page, bid_id, errors=exc.errors, values=values, status=422)
    except DomainError as exc:
        if exc.status in (401, 403, 404):
            raise
        errors = refusal(exc, rename={"payment_method": "card"}).errors
        return await _pay_page(page, bid_id, errors=errors, values=values, status=exc.status)
    return page.redirect(f"/jobs/{award.job_id}?done={'paid' if award.status == 'awarded' else 'pending'}")


@router.post("/jobs/{job_id}/cancel")
async def cancel(page: HomeownerPage, job_id: Id) -> Response:
    async with page.writing() as s:
        await jobs.cancel(session=s, principal=page.user, job_id=job_id)
    return page.redirect(f"/jobs/{job_id}")


@router.post("/jobs/{job_id}/complete")
async def complete(page: HomeownerPage, job_id: Id) -> Response:
    async with page.writing() as s:
        await flows.complete(session=s, settings=page.settings, principal=page.user, job_id=job_id)
    return page.redirect(f"/jobs/{job_id}")


@router.post("/jobs/{job_id}/review")
async def review(page: HomeownerPage, job_id: Id) -> Response:
    values = {"rating": page.field("rating"), "body": page.field("body").strip()}
    try:
        data = parse(ReviewIn, values)
        async with page.writing() as s:
            await reviews.post(session=s, principal=page.user, job_id=job_id, data=data)
    except FormInvalid as exc:
        return await job_page(page, job_id, errors=exc.errors, values=values, status=422)
    except DomainError as exc:
        if exc.status in (401, 403, 404):
            raise
        return await job_page(page, job_id, errors=refusal(exc).errors, values=values, status=exc.status)
    return page.redirect(f"/jobs/{job_id}")
