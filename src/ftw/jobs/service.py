"""Jobs: posting with an estimate, editing, cancelling, photos, browse and search."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import AsyncIterable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import filetype
from sqlalchemy import Float, Select, bindparam, event, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from ftw.accounts.models import Role
from ftw.config import JobRules, Settings
from ftw.core import cache, metrics
from ftw.core.db import on_rollback
from ftw.core.errors import Conflict, Forbidden, Invalid, NotFound, UnsupportedMediaType
from ftw.core.multipart import Part
from ftw.core.pagination import Keyset, PageParams
from ftw.core.query import Query
from ftw.core.security import AccessClaims
from ftw.integrations.storage import Storage
from ftw.jobs.models import EDITABLE, JOB, Job, JobPhoto, JobStatus, Urgency
from ftw.jobs.photos import NotAnImage, rewritten
from ftw.jobs.schemas import (
    JobCreate,
    JobFilters,
    JobOut,
    JobPage,
    JobSummary,
    JobUpdate,
    PhotoOut,
    ThumbnailOut,
)
from ftw.scoping.estimator import Estimate, estimate
from ftw.scoping.schemas import EstimateOut
from ftw.scoping.trades import Trade
from ftw.territories import service as territories
from ftw.territories.geography import county_for_zip
from ftw.territories.models import Territory


def _check_text(rules: JobRules, title: str | None, description: str | None) -> None:
    if title is not None and len(title) < rules.title_min:
        raise Invalid(f"Title must be at least {rules.title_min} characters", field="title")
    if description is not None and len(description) < rules.description_min:
        raise Invalid(f"Description must be at least {rules.description_min} characters", field="description")


def _deadline(urgency: str, settings: Settings) -> datetime | None:
    if urgency != Urgency.URGENT:
        return None
    return datetime.now(UTC) + timedelta(minutes=settings.jobs.urgent_deadline_minutes)


def _apply_estimate(job: Job, scoped: Estimate) -> None:
    job.price_low_cents = scoped.price_low_cents
    job.price_high_cents = scoped.price_high_cents
    job.size = scoped.size.value
    job.tier = scoped.tier.value
    job.confidence = scoped.confidence
    job.materials = list(scoped.materials)
    job.estimate_source = scoped.source


async def post(*, session: AsyncSession, settings: Settings, homeowner_id: int, data: JobCreate) -> Job:
    _check_text(settings.jobs, data.title, data.description)
    fips = data.territory_fips or county_for_zip(data.zip)
    if fips is None:
        raise Invalid("Unknown ZIP code; give territory_fips", field="zip")
    territory = await session.get(Territory, fips)
    if territory is None:
        raise Invalid(f"No county with FIPS {fips}", field="territory_fips")
    job = Job(
        homeowner_id=homeowner_id,
        territory_fips=fips,
        zip=data.zip,
        title=data.title,
        description=data.description,
        trade=data.trade.value,
        urgency=data.urgency.value,
        status=JobStatus.OPEN.value,
        deadline_at=_deadline(data.urgency, settings),
    )
    _apply_estimate(
        job,
        estimate(
            trade=data.trade,
            title=data.title,
            description=data.description,
            state=territory.state,
            rules=settings.jobs,
        ),
    )
    session.add(job)
    await session.flush()
    metrics.count("jobs_posted", session=session)
    return job


async def get(*, session: AsyncSession, job_id: int, for_update: bool = False) -> Job:
    query = select(Job).where(Job.id == job_id)
    if for_update:
        query = query.with_for_update()
    job = await session.scalar(query)
    if job is None:
        raise NotFound(f"No job {job_id}")
    return job


def _owned(job: Job, principal: AccessClaims) -> None:
    if job.homeowner_id != principal.user_id and principal.role != Role.ADMIN:
        raise Forbidden("Only the homeowner who posted this job may change it")


async def update(
    *, session: AsyncSession, settings: Settings, principal: AccessClaims, job_id: int, data: JobUpdate
) -> Job:
    job = await get(session=session, job_id=job_id, for_update=True)
    _owned(job, principal)
    if job.status not in EDITABLE:
        raise Conflict(f"A job that is {job.status} can no longer be edited")
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if not changes:
        raise Invalid("Nothing to change", field="body")
    _check_text(settings.jobs, changes.get("title"), changes.get("description"))
    for name, value in changes.items():
        setattr(job, name, value.value if isinstance(value, Trade | Urgency) else value)
    if "urgency" in changes:
        job.deadline_at = _deadline(job.urgency, settings)
    if changes.keys() & {"title", "description", "trade"}:
        territory = await territories.get(session=session, fips=job.territory_fips)
        _apply_estimate(
            job,
            estimate(
                trade=Trade(job.trade),
                title=job.title,
                description=job.description,
                state=territory.state,
                rules=settings.jobs,
            ),
        )
    await session.flush()
    await session.refresh(job)
    return job


async def cancel(*, session: AsyncSession, principal: AccessClaims, job_id: int) -> Job:
    job = await get(session=session, job_id=job_id, for_update=True)
    _owned(job, principal)
    if job.status != JobStatus.OPEN:  # a paid job is cancelled only with its refund
        raise Conflict(f"A job that is {job.status} is cancelled by refunding it: POST /jobs/{job.id}/refund")
    JOB.move(job, JobStatus.CANCELLED, by=Role(principal.role))
    job.cancelled_at = datetime.now(UTC)
    await session.flush()
    await session.refresh(job)
    return job


HEADER_BYTES = 262  # what filetype reads to tell an image's type


async def photo_room(
    *, session: AsyncSession, settings: Settings, principal: AccessClaims, job_id: int
) -> int:
    """How many more photos the caller may add to the job: checked before a byte of an
    upload is read. ``add_photos`` checks again under the job's lock."""
    job = await get(session=session, job_id=job_id)
    _owned(job, principal)
    return _room(job, settings.jobs)


def _room(job: Job, rules: JobRules) -> int:
    if job.status not in EDITABLE:
        raise Conflict(f"A job that is {job.status} takes no more photos")
    room = rules.max_photos - job.photo_count
    if room <= 0:
        raise Conflict(f"A job holds at most {rules.max_photos} photos; this one has {job.photo_count}")
    return room


async def add_photos(
    *,
    session: AsyncSession,
    settings: Settings,
    storage: Storage,
    principal: AccessClaims,
    job_id: int,
    files: AsyncIterable[Part],
) -> list[JobPhoto]:
    """Store each photo as it arrives (its type told from its bytes, stripped of its metadata,
    with its thumbnails), then all their rows under the job's lock: all of them or none, since
    a refusal part-way rolls back and deletes what was stored (``on_rollback``). One photo is
    held at a time; the job's row is locked once the upload is in, not while it streams."""
    rules = settings.jobs
    photos = []
    async for part in files:
        photos.append(await _store(session=session, storage=storage, rules=rules, job_id=job_id, part=part))
        del part  # let this photo go before the next one is read
    if not photos:
        raise Invalid("Attach at least one photo", field="files")
    job = await get(session=session, job_id=job_id, for_update=True)
    _owned(job, principal)
    if len(photos) > _room(job, rules):
        raise Conflict(f"A job holds at most {rules.max_photos} photos; this one has {job.photo_count}")
    session.add_all(photos)
    job.photo_count += len(photos)
    await session.flush()
    return photos


async def _store(
    *, session: AsyncSession, storage: Storage, rules: JobRules, job_id: int, part: Part
) -> JobPhoto:
    name = part.filename or "photo"
    kind = filetype.guess(part.data[:HEADER_BYTES])
    if kind is None or kind.mime not in rules.photo_types:
        allowed = ", ".join(rules.photo_types)
        raise UnsupportedMediaType(f"{name} is not an image of an accepted type ({allowed})", field=part.name)
    try:
        clean = await asyncio.to_thread(
            rewritten, part.data, kind.mime, widths=rules.thumbnail_widths, quality=rules.thumbnail_quality
        )
    except NotAnImage as exc:
        raise UnsupportedMediaType(f"{name} is not a readable image", field=part.name) from exc
    stem = f"jobs/{job_id}/{uuid.uuid4().hex}"
    key = f"{stem}.{kind.extension}"
    await _put(session, storage, key, clean.data, kind.mime)
    thumbnails = []
    for thumbnail in clean.thumbnails:
        thumbnail_key = f"{stem}-{thumbnail.width}.webp"
        await _put(session, storage, thumbnail_key, thumbnail.data, "image/webp")
        thumbnails.append({"key": thumbnail_key, "width": thumbnail.width, "height": thumbnail.height})
    return JobPhoto(
        job_id=job_id,
        storage_key=key,
        content_type=kind.mime,
        size_bytes=len(clean.data),
        thumbnails=thumbnails,
    )


async def _put(session: AsyncSession, storage: Storage, key: str, data: bytes, content_type: str) -> None:
    await storage.put(key, data, content_type)  # nothing stored when it raises
    on_rollback(session, lambda: storage.delete(key))


async def photos_of(*, session: AsyncSession, job_id: int) -> list[JobPhoto]:
    return list(
        await session.scalars(select(JobPhoto).where(JobPhoto.job_id == job_id).order_by(JobPhoto.id))
    )


_OUT = (
    Job.id, Job.homeowner_id, Job.title, Job.description, Job.trade, Job.status, Job.urgency,
    Job.territory_fips, Job.zip, Job.deadline_at, Job.price_low_cents, Job.price_high_cents,
    Job.size, Job.tier, Job.confidence, Job.materials, Job.estimate_source, Job.created_at,
    Job.updated_at,
)  # fmt: skip
_PHOTO = ("id", "storage_key", "content_type", "size_bytes", "thumbnails")
_DETAIL = Query(
    select(
        *_OUT,
        select(
            func.coalesce(
                func.json_agg(
                    aggregate_order_by(
                        func.json_build_object(*(x for n in _PHOTO for x in (n, JobPhoto.__table__.c[n]))),
                        JobPhoto.id,
                    )
                ),
                literal_column("'[]'::json"),
            )
        )
        .where(JobPhoto.job_id == Job.id)
        .scalar_subquery()
        .label("photos"),
    ).where(Job.id == bindparam("job_id"))
)


async def detail(*, session: AsyncSession, storage: Storage, job_id: int) -> JobOut:
    """A job's page with its photos, in one compiled statement."""
    row = await _DETAIL.row(session, job_id=job_id)
    if row is None:
        raise NotFound(f"No job {job_id}")
    return _out(row, row["photos"], storage)


async def titles(*, session: AsyncSession, job_ids: list[int]) -> dict[int, str]:
    """The titles of ``job_ids``, in one statement."""
    if not job_ids:
        return {}
    rows = await session.execute(select(Job.id, Job.title).where(Job.id.in_(job_ids)))
    return {job_id: title for job_id, title in rows}


def present(job: Job, photos: list[JobPhoto], storage: Storage) -> JobOut:
    """A job the request holds as a model (after a write)."""
    fields = {column.key: getattr(job, column.key) for column in _OUT}
    return _out(fields, [_columns(p) for p in photos], storage)


def _columns(photo: JobPhoto) -> dict[str, Any]:
    return {name: getattr(photo, name) for name in _PHOTO}


def photo_out(photo: Mapping[str, Any], storage: Storage) -> PhotoOut:
    """A photo (its columns by name) as the API shows it: URLs, not storage keys."""
    return PhotoOut(
        id=photo["id"],
        url=storage.url(photo["storage_key"]),
        content_type=photo["content_type"],
        size_bytes=photo["size_bytes"],
        thumbnails=[
            ThumbnailOut(url=storage.url(t["key"]), width=t["width"], height=t["height"])
            for t in photo["thumbnails"]
        ],
    )


def photos_out(photos: Iterable[JobPhoto], storage: Storage) -> list[PhotoOut]:
    return [photo_out(_columns(p), storage) for p in photos]


def _out(job: Mapping[str, Any], photos: Iterable[Mapping[str, Any]], storage: Storage) -> JobOut:
    return JobOut(
        id=job["id"],
        homeowner_id=job["homeowner_id"],
        title=job["title"],
        description=job["description"],
        trade=Trade(job["trade"]),
        status=JobStatus(job["status"]),
        urgency=Urgency(job["urgency"]),
        territory_fips=job["territory_fips"],
        zip=job["zip"],
        deadline_at=job["deadline_at"],
        estimate=EstimateOut(
            price_low_cents=job["price_low_cents"],
            price_high_cents=job["price_high_cents"],
            size=job["size"],
            tier=job["tier"],
            confidence=float(job["confidence"]),
            materials=job["materials"],
            source=job["estimate_source"],
        ),
        photos=[photo_out(p, storage) for p in photos],
        created_at=job["created_at"],
        updated_at=job["updated_at"],
    )


_SUMMARY = (
    Job.id,
    Job.title,
    Job.trade,
    Job.status,
    Job.urgency,
    Job.territory_fips,
    Job.zip,
    Job.size,
    Job.tier,
    Job.price_low_cents,
    Job.price_high_cents,
    Job.deadline_at,
    Job.created_at,
)


_Shape = tuple[bool, bool, bool, bool, bool, bool | None]  # open; territory, mine, size, trade set; urgent


def _shape(filters: JobFilters) -> _Shape:
    """Which filters are set: the statement's shape, one compiled pager per shape."""
    return (
        filters.status is JobStatus.OPEN,
        filters.territory is not None,
        filters.homeowner_id is not None,
        filters.size is not None,
        filters.trade is not None,
        filters.urgent,
    )


def _narrowed(query: Select[*tuple[Any, ...]], shape: _Shape) -> Select[*tuple[Any, ...]]:
    """``query`` narrowed to the status and the filters set, bound as ``status``,
    ``territory``, ``homeowner_id``, ``size`` and ``trade``.

    Open jobs (nearly every list) are asked for by a literal, not a bound value: asyncpg
    prepares each statement, PostgreSQL soon plans it once for any value, and a plan for any
    status cannot use the indexes of open jobs alone (``ix_jobs_browse_open``,
    ``ix_jobs_search_open``).
    """
    open_only, territory, mine, size, trade, urgent = shape
    query = query.where(
        Job.status == (literal_column(f"'{JobStatus.OPEN.value}'") if open_only else bindparam("status"))
    )
    if territory:
        query = query.where(Job.territory_fips == bindparam("territory"))
    if mine:
        query = query.where(Job.homeowner_id == bindparam("homeowner_id"))
    if size:
        query = query.where(Job.size == bindparam("size"))
    if trade:
        query = query.where(Job.trade == bindparam("trade"))
    if urgent is not None:
        urgency = Urgency.URGENT.value
        query = query.where((Job.urgency == urgency) if urgent else (Job.urgency != urgency))
    return query


def _values(filters: JobFilters) -> dict[str, Any]:
    return {
        "status": filters.status.value,
        "territory": filters.territory,
        "homeowner_id": filters.homeowner_id,
        "size": filters.size.value if filters.size is not None else None,
        "trade": filters.trade.value if filters.trade is not None else None,
    }


_BROWSE = select(*_SUMMARY)


@functools.cache
def _browse_pages(shape: _Shape) -> Keyset:
    """``browse``'s pager for one combination of filters, compiled on first use."""
    return Keyset(_narrowed(_BROWSE, shape), Job.created_at.desc(), Job.id.desc())


async def browse(
    *, session: AsyncSession, filters: JobFilters, page: PageParams
) -> tuple[list[JobSummary], str | None]:
    """Newest first, by keyset on (created_at, id)."""
    pages = _browse_pages(_shape(filters))
    rows, next_cursor = await pages.page(session, page.cursor, page.limit, **_values(filters))
    return [JobSummary.model_validate(dict(row)) for row in rows], next_cursor


async def browse_territory(
    *, cache_: cache.Cache, session: AsyncSession, filters: JobFilters, page: PageParams
) -> bytes:
    """``browse`` of one county (``filters.territory``) through the cache, as the page's
    JSON; every job write there changes the county's version."""
    territory = filters.territory
    if territory is None:
        raise ValueError("browse_territory lists one county")

    async def load(s: AsyncSession) -> JobPage:
        items, next_cursor = await browse(session=s, filters=filters, page=page)
        return JobPage(items=items, next_cursor=next_cursor)

    status, size, trade, urgent = filters.status, filters.size, filters.trade, filters.urgent
    key = f"jobs:{territory}:{status.value}:{size}:{trade}:{urgent}:{page.limit}:{page.cursor or ''}"
    return await cache_.payload(
        "job_listings", key, load, session=session, version=cache.territory(territory)
    )


def _territory_listings_change(session: Session, flush_context: object, instances: object) -> None:
    """Any job inserted, changed or deleted by any flow changes its county's cached listings."""
    changed = {
        obj.territory_fips for obj in (*session.new, *session.dirty, *session.deleted) if isinstance(obj, Job)
    }
    if changed:
        cache.changed(session, *(cache.territory(fips) for fips in changed))


def listen() -> None:
    """Mark a county's cached listings changed whenever any flow writes one of its jobs;
    installed once per process by ``ftw.hooks``."""
    if not event.contains(Session, "before_flush", _territory_listings_change):
        event.listen(Session, "before_flush", _territory_listings_change)


@functools.cache
def _search_pages(shape: _Shape) -> Keyset:
    """``search``'s pager for one combination of filters, compiled on first use."""
    tsquery = func.websearch_to_tsquery("english", bindparam("text_query"))
    rank = func.ts_rank_cd(Job.search, tsquery, 32, type_=Float).label("rank")
    query: Select[*tuple[Any, ...]] = select(*_SUMMARY, rank).where(Job.search.bool_op("@@")(tsquery))
    return Keyset(_narrowed(query, shape), rank.desc(), Job.id.desc())


async def search(
    *, session: AsyncSession, text_query: str, filters: JobFilters, page: PageParams
) -> tuple[list[JobSummary], str | None]:
    """Full-text search in websearch syntax, best match first, by keyset on (rank, id)."""
    pages = _search_pages(_shape(filters))
    rows, next_cursor = await pages.page(
        session, page.cursor, page.limit, text_query=text_query, **_values(filters)
    )
    return [JobSummary.model_validate(dict(row)) for row in rows], next_cursor
