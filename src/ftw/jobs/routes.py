"""HTTP layer of jobs."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, Query, Request, Response, status

from ftw.accounts.auth import Anyone, Homeowner
from ftw.core import ratelimit, switches
from ftw.core.cache import CacheDep
from ftw.core.deps import ReadSessionDep, SessionDep, SettingsDep
from ftw.core.errors import Invalid, LengthRequired, PayloadTooLarge
from ftw.core.multipart import MB, Form
from ftw.core.pagination import PageDep
from ftw.core.routing import LeanRoute
from ftw.core.switches import Name
from ftw.core.validation import Id, NoNul
from ftw.integrations.deps import StorageDep
from ftw.jobs import service
from ftw.jobs.models import JobStatus
from ftw.jobs.schemas import JobCreate, JobFilters, JobOut, JobPage, JobUpdate, PhotoOut
from ftw.scoping.estimator import JobSize
from ftw.scoping.trades import Trade

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"], route_class=LeanRoute)
PHOTOS_PATH = "/api/v1/jobs/{job_id}/photos"  # an upload: the edge bounds its body as one


class PageViews(Protocol):
    """Counts a job page's views; create_app installs analytics' ``Views`` (jobs sits below
    analytics, so the page counts through this hook instead of importing it)."""

    def seen(self, job_id: int) -> None: ...


async def get_views(request: Request) -> PageViews:
    views: PageViews = request.app.state.views
    return views


ViewsDep = Annotated[PageViews, Depends(get_views)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[switches.required(Name.JOB_POSTING)],
)
@ratelimit.limit("post_job")
async def post_job(
    data: JobCreate, session: SessionDep, settings: SettingsDep, storage: StorageDep, principal: Homeowner
) -> JobOut:
    job = await service.post(session=session, settings=settings, homeowner_id=principal.user_id, data=data)
    await session.refresh(job)
    return service.present(job, [], storage)


@router.get("", response_model=JobPage)
@ratelimit.limit("list_jobs")
async def browse(
    session: ReadSessionDep,
    cache: CacheDep,
    principal: Anyone,
    page: PageDep,
    q: Annotated[
        str | None, Query(min_length=2, max_length=200, description="Full-text, websearch syntax"), NoNul
    ] = None,
    territory: Annotated[str | None, Query(pattern=r"^\d{5}$")] = None,
    mine: Annotated[bool, Query(description="Only the caller's own jobs (homeowners)")] = False,
    status: JobStatus = JobStatus.OPEN,
    size: JobSize | None = None,
    trade: Trade | None = None,
    urgent: bool | None = None,
) -> JobPage | Response:
    """Browse a county's jobs newest first, or search them (``q``) best match first."""
    filters = JobFilters(status=status, territory=territory, size=size, trade=trade, urgent=urgent)
    if q is not None:
        items, next_cursor = await service.search(session=session, text_query=q, filters=filters, page=page)
        return JobPage(items=items, next_cursor=next_cursor)
    if mine:
        if principal is None:
            raise Invalid("Sign in to list your own jobs", field="mine")
        filters = replace(filters, homeowner_id=principal.user_id)
    elif territory is None:
        raise Invalid("Choose a territory to browse, or search with q", field="territory")
    else:
        page_json = await service.browse_territory(cache_=cache, session=session, filters=filters, page=page)
        return Response(page_json, media_type="application/json")  # the cached JSON, as it is
    items, next_cursor = await service.browse(session=session, filters=filters, page=page)
    return JobPage(items=items, next_cursor=next_cursor)


@router.get("/{job_id}")
async def detail(
    job_id: Id, session: ReadSessionDep, storage: StorageDep, views: ViewsDep, principal: Anyone
) -> JobOut:
    job = await service.detail(session=session, storage=storage, job_id=job_id)
    if principal is None or principal.user_id != job.homeowner_id:
        views.seen(job.id)
    return job


@router.patch("/{job_id}")
async def edit(
    job_id: Id,
    data: JobUpdate,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
    principal: Homeowner,
) -> JobOut:
    job = await service.update(
        session=session, settings=settings, principal=principal, job_id=job_id, data=data
    )
    return service.present(job, await service.photos_of(session=session, job_id=job_id), storage)


@router.post("/{job_id}/cancel")
async def cancel(job_id: Id, session: SessionDep, storage: StorageDep, principal: Homeowner) -> JobOut:
    job = await service.cancel(session=session, principal=principal, job_id=job_id)
    return service.present(job, await service.photos_of(session=session, job_id=job_id), storage)


@router.post(
    "/{job_id}/photos",
    status_code=status.HTTP_201_CREATED,
    dependencies=[switches.required(Name.PHOTO_UPLOADS)],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                        },
                        "required": ["files"],
                    }
                }
            },
        }
    },
)
async def upload_photos(
    job_id: Id,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
    principal: Homeowner,
) -> list[PhotoOut]:
    """The caller, the job and its room for photos are checked before a byte of the upload
    is read; the declared length must fit that many photos. The body is then read as it
    arrives, one photo at a time: a photo past 10 MB, or one more than the job has room
    for, is refused as soon as it shows, before the rest is read."""
    room = await service.photo_room(session=session, settings=settings, principal=principal, job_id=job_id)
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        raise LengthRequired("Send the upload with a Content-Length")
    largest = settings.jobs.max_photo_bytes
    too_many = f"This job takes {room} more photo(s) of at most {largest // MB} MB"
    if int(declared) > room * (largest + settings.requests.part_overhead_bytes):
        raise PayloadTooLarge(too_many, field="files")
    form = Form.upload(request, settings, max_files=room, too_many_files=too_many)
    if await form.fields():
        raise Invalid("An upload takes files only", field="files")
    photos = await service.add_photos(
        session=session,
        settings=settings,
        storage=storage,
        principal=principal,
        job_id=job_id,
        files=form.files(),
    )
    return service.photos_out(photos, storage)
