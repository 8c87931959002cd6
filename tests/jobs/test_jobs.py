"""Posting, editing, cancelling and photographing jobs."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.accounts.models import User
from ftw.config import JobRules, Settings
from ftw.core.db import Database, on_rollback
from ftw.integrations.storage import LocalStorage
from ftw.jobs.models import Job, JobPhoto
from ftw.scoping.estimator import size_for
from tests.conftest import PASSWORD, SignUp
from tests.support.market import JOB, post_job


def pixels(data: bytes) -> list[object]:
    with Image.open(io.BytesIO(data)) as image:
        return list(image.convert("RGB").get_flattened_data())


def png(width: int = 2, height: int = 2) -> bytes:
    """A real, tiny PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


async def test_posting_a_job_scopes_it_and_places_it_in_the_zip_county(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    homeowner = await sign_up()
    job = await post_job(client, homeowner)
    assert job["status"] == "open"
    assert job["territory_fips"] == "36061"
    assert job["homeowner_id"] == homeowner.id
    estimate = job["estimate"]
    assert 0 < estimate["price_low_cents"] < estimate["price_high_cents"]
    assert estimate["tier"] == "QUICK_FIX"
    assert estimate["size"] == size_for(estimate["price_high_cents"], JobRules())
    assert 0 < estimate["confidence"] <= 1
    assert estimate["materials"]
    assert job["deadline_at"] is None


async def test_a_given_territory_wins_over_the_zip(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    job = await post_job(client, await sign_up(), territory_fips="36047")
    assert job["territory_fips"] == "36047"


async def test_urgent_jobs_get_a_two_hour_deadline(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    job = await post_job(client, await sign_up(), urgency="urgent")
    deadline = datetime.fromisoformat(job["deadline_at"])
    assert timedelta(minutes=119) < deadline - datetime.now(UTC) <= timedelta(minutes=120)


async def test_big_jobs_are_large_major_projects(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    job = await post_job(
        client,
        await sign_up(),
        trade="roofing",
        title="Full roof replacement",
        description="Tear off and replace the entire roof on a whole house, about 2,400 sq ft of shingles.",
    )
    assert (job["estimate"]["size"], job["estimate"]["tier"]) == ("large", "MAJOR_PROJECT")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": "Fix"}, "title"),
        ({"title": "   Fix     "}, "title"),
        ({"description": "Too short"}, "description"),
        ({"trade": "astrology"}, "trade"),
        ({"zip": "1234"}, "zip"),
        ({"zip": "00000"}, "zip"),
        ({"territory_fips": "99999"}, "territory_fips"),
        ({"urgency": "yesterday"}, "urgency"),
    ],
)
async def test_bad_jobs_are_refused_by_field_and_nothing_is_saved(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, overrides: dict[str, Any], field: str
) -> None:
    homeowner = await sign_up()
    response = await client.post("/api/v1/jobs", json=JOB | overrides, headers=homeowner.headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]
    assert await session.scalar(select(func.count()).select_from(Job)) == 0


async def test_only_homeowners_post_jobs(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    assert (await client.post("/api/v1/jobs", json=JOB)).status_code == 401
    contractor = await sign_up("contractor")
    forbidden = await client.post("/api/v1/jobs", json=JOB, headers=contractor.headers)
    assert forbidden.status_code == 403
    assert forbidden.json()["title"] == "Forbidden"


async def test_anyone_reads_a_job_and_a_missing_one_is_404(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    job = await post_job(client, await sign_up())
    shown = await client.get(f"/api/v1/jobs/{job['id']}")
    assert shown.status_code == 200
    assert shown.json()["title"] == JOB["title"]
    assert (await client.get("/api/v1/jobs/987654321")).status_code == 404


async def test_owner_edits_and_the_estimate_follows(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    homeowner = await sign_up()
    job = await post_job(client, homeowner)
    edited = await client.patch(
        f"/api/v1/jobs/{job['id']}",
        headers=homeowner.headers,
        json={
            "title": "Replace water heater",
            "description": "Our 50 gallon water heater failed; replace it.",
        },
    )
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert body["title"] == "Replace water heater"
    assert body["estimate"]["price_high_cents"] > job["estimate"]["price_high_cents"]


async def test_edit_rules(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    owner, stranger = await sign_up(), await sign_up()
    job = await post_job(client, owner)
    url = f"/api/v1/jobs/{job['id']}"
    assert (await client.patch(url, headers=stranger.headers, json={"title": "Mine now!"})).status_code == 403
    assert (await client.patch(url, headers=owner.headers, json={"title": "No"})).status_code == 422
    assert (await client.patch(url, headers=owner.headers, json={})).status_code == 422
    urgent = await client.patch(url, headers=owner.headers, json={"urgency": "urgent"})
    assert urgent.json()["deadline_at"] is not None


async def test_cancel_by_owner_once(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    owner, stranger = await sign_up(), await sign_up()
    job = await post_job(client, owner)
    url = f"/api/v1/jobs/{job['id']}/cancel"
    assert (await client.post(url, headers=stranger.headers)).status_code == 403
    cancelled = await client.post(url, headers=owner.headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    again = await client.post(url, headers=owner.headers)
    assert again.status_code == 409
    edit = await client.patch(
        f"/api/v1/jobs/{job['id']}", headers=owner.headers, json={"title": "Changed my mind"}
    )
    assert edit.status_code == 409


async def test_photos_are_stored_and_listed(
    client: httpx.AsyncClient, sign_up: SignUp, media_root: Path
) -> None:
    owner = await sign_up()
    job = await post_job(client, owner)
    files = [("files", ("front.png", png(), "image/png")), ("files", ("back.png", png(3, 3), "image/png"))]
    uploaded = await client.post(f"/api/v1/jobs/{job['id']}/photos", headers=owner.headers, files=files)
    assert uploaded.status_code == 201, uploaded.text
    photos = uploaded.json()
    assert [p["content_type"] for p in photos] == ["image/png", "image/png"]
    stored = media_root / photos[0]["url"].removeprefix("/media/")
    assert pixels(stored.read_bytes()) == pixels(png())  # written anew, the same picture
    served = await client.get(photos[0]["url"])
    assert served.status_code == 200
    assert served.content == stored.read_bytes()
    detail = (await client.get(f"/api/v1/jobs/{job['id']}")).json()
    assert [p["id"] for p in detail["photos"]] == [p["id"] for p in photos]


async def test_a_file_that_is_not_an_image_is_refused_whatever_its_name(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, media_root: Path
) -> None:
    owner = await sign_up()
    job = await post_job(client, owner)
    files = [
        ("files", ("ok.png", png(), "image/png")),
        ("files", ("evil.jpg", b"#!/bin/sh\necho not a photo\n", "image/jpeg")),
    ]
    refused = await client.post(f"/api/v1/jobs/{job['id']}/photos", headers=owner.headers, files=files)
    assert refused.status_code == 415
    assert refused.json()["errors"][0]["field"] == "files"
    assert await session.scalar(select(func.count()).select_from(JobPhoto)) == 0
    # The good photo was stored as it arrived, then deleted when the upload was refused.
    stored = media_root / "jobs" / str(job["id"])
    assert not [path for path in stored.rglob("*") if path.is_file()]


async def test_photos_over_ten_megabytes_are_refused(
    client: httpx.AsyncClient, sign_up: SignUp, settings: Settings
) -> None:
    owner = await sign_up()
    job = await post_job(client, owner)
    big = png() + b"\x00" * settings.jobs.max_photo_bytes
    refused = await client.post(
        f"/api/v1/jobs/{job['id']}/photos",
        headers=owner.headers,
        files=[("files", ("big.png", big, "image/png"))],
    )
    assert refused.status_code == 413


async def test_a_job_holds_at_most_twenty_photos(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    owner = await sign_up()
    job = await post_job(client, owner)
    url = f"/api/v1/jobs/{job['id']}/photos"
    twenty = [("files", (f"p{i}.png", png(), "image/png")) for i in range(20)]
    assert (await client.post(url, headers=owner.headers, files=twenty)).status_code == 201
    one_more = await client.post(url, headers=owner.headers, files=[("files", ("p.png", png(), "image/png"))])
    assert one_more.status_code == 409
    assert await session.scalar(select(func.count()).select_from(JobPhoto)) == 20


async def test_only_the_owner_adds_photos(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    owner, stranger = await sign_up(), await sign_up()
    job = await post_job(client, owner)
    files = [("files", ("p.png", png(), "image/png"))]
    response = await client.post(f"/api/v1/jobs/{job['id']}/photos", headers=stranger.headers, files=files)
    assert response.status_code == 403


async def test_a_failed_transaction_removes_the_files_it_stored(database: Database, media_root: Path) -> None:
    """Files written before the database refuses are deleted: nothing half-written stays."""
    storage = LocalStorage(media_root)

    async def store_then_fail() -> None:
        async with database.session() as s:
            on_rollback(s, lambda: storage.delete("jobs/x/orphan.png"))
            await storage.put("jobs/x/orphan.png", png(), "image/png")
            assert (media_root / "jobs" / "x" / "orphan.png").exists()
            raise RuntimeError("database refused")

    with pytest.raises(RuntimeError):
        await store_then_fail()
    assert not (media_root / "jobs" / "x" / "orphan.png").exists()


async def test_an_admin_may_cancel_any_job(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    owner, admin = await sign_up(), await sign_up()
    await session.execute(update(User).where(User.id == admin.id).values(role="admin"))
    tokens = await client.post("/api/v1/auth/login", json={"email": admin.email, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
    job = await post_job(client, owner)
    cancelled = await client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"


async def test_text_postgres_cannot_store_and_huge_ids_are_422_not_500(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    homeowner = await sign_up()
    nul = await client.post(
        "/api/v1/jobs", json=JOB | {"title": "Broken\x00 faucet"}, headers=homeowner.headers
    )
    assert nul.status_code == 422
    assert nul.json()["errors"][0]["field"] == "title"
    assert (await client.get("/api/v1/jobs/99999999999999999999")).status_code == 422
    assert await session.scalar(select(func.count()).select_from(Job)) == 0
