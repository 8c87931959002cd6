"""The edge of every request: bodies bounded before they are read, the caller and the job
checked before a byte of a photo, photos stripped of their location, security headers, and
request ids only when well formed."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from PIL import Image
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.app import create_app
from ftw.config import Settings
from ftw.core.db import Database
from ftw.core.edge import answer_headers
from ftw.jobs.models import Job
from ftw.sandboxes import SANDBOXES  # production's stand-ins, allowed by name here
from tests.conftest import SignUp
from tests.jobs.test_jobs import png
from tests.support.market import post_job

BOUNDARY = "ftwboundary"


class Tripwire:
    """A request body that records whether the server read any of it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.read = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.read = True
        yield b"\x00" * self.size


def _upload(headers: dict[str, str], length: int) -> dict[str, str]:
    return headers | {
        "content-type": f"multipart/form-data; boundary={BOUNDARY}",
        "content-length": str(length),
    }


def _jpeg_with_location() -> bytes:
    image = Image.new("RGB", (8, 6), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (40.0, 44.0, 54.0)  # GPSLatitudeRef, GPSLatitude
    gps[3], gps[4] = "W", (73.0, 59.0, 9.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


async def test_a_json_body_past_64_kb_is_refused_before_it_is_read(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    owner = await sign_up()
    body = Tripwire(70_000)
    headers = owner.headers | {"content-type": "application/json", "content-length": str(body.size)}
    refused = await client.post("/api/v1/jobs", content=body, headers=headers)
    assert refused.status_code == 413
    assert refused.headers["content-type"] == "application/problem+json"
    assert not body.read


async def test_a_body_that_outgrows_its_bound_while_streaming_is_cut_off(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    owner = await sign_up()

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
        for _ in range(20):
            yield b" " * 8_192

    refused = await client.post("/api/v1/jobs", content=chunked(), headers=owner.headers)
    assert refused.status_code == 413
    assert refused.headers["content-type"] == "application/problem+json"


async def test_a_strangers_upload_is_refused_before_a_byte_is_read(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    owner, stranger = await sign_up(), await sign_up()
    job = await post_job(client, owner)
    body = Tripwire(1_000_000)
    refused = await client.post(
        f"/api/v1/jobs/{job['id']}/photos", content=body, headers=_upload(stranger.headers, body.size)
    )
    assert refused.status_code == 403
    assert not body.read
    anonymous = await client.post(
        f"/api/v1/jobs/{job['id']}/photos", content=body, headers=_upload({}, body.size)
    )
    assert anonymous.status_code == 401
    assert not body.read


async def test_a_full_job_refuses_an_upload_before_a_byte_is_read(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    owner = await sign_up()
    job = await post_job(client, owner)
    await session.execute(update(Job).where(Job.id == job["id"]).values(photo_count=20))
    body = Tripwire(1_000)
    refused = await client.post(
        f"/api/v1/jobs/{job['id']}/photos", content=body, headers=_upload(owner.headers, body.size)
    )
    assert refused.status_code == 409
    assert not body.read


async def test_an_upload_longer_than_the_jobs_room_is_refused_before_a_byte_is_read(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, settings: Settings
) -> None:
    owner = await sign_up()
    job = await post_job(client, owner)
    await session.execute(update(Job).where(Job.id == job["id"]).values(photo_count=19))
    body = Tripwire(2 * settings.jobs.max_photo_bytes)
    refused = await client.post(
        f"/api/v1/jobs/{job['id']}/photos", content=body, headers=_upload(owner.headers, body.size)
    )
    assert refused.status_code == 413
    assert refused.headers["content-type"] == "application/problem+json"
    assert not body.read


async def test_more_files_than_the_job_has_room_for_are_refused(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession
) -> None:
    owner = await sign_up()
    job = await post_job(client, owner)
    await session.execute(update(Job).where(Job.id == job["id"]).values(photo_count=19))
    files = [("files", (f"p{i}.png", png(), "image/png")) for i in range(2)]
    refused = await client.post(f"/api/v1/jobs/{job['id']}/photos", headers=owner.headers, files=files)
    assert refused.status_code in (400, 409)
    assert refused.headers["content-type"] == "application/problem+json"


async def test_photos_are_stored_and_served_without_their_location(
    client: httpx.AsyncClient, sign_up: SignUp, media_root: Path
) -> None:
    owner = await sign_up()
    job = await post_job(client, owner)
    original = _jpeg_with_location()
    with Image.open(io.BytesIO(original)) as image:
        assert image.getexif().get_ifd(0x8825)  # the test photo does carry a location
    files = [("files", ("home.jpg", original, "image/jpeg"))]
    uploaded = await client.post(f"/api/v1/jobs/{job['id']}/photos", headers=owner.headers, files=files)
    assert uploaded.status_code == 201, uploaded.text
    served = await client.get(uploaded.json()[0]["url"])
    with Image.open(io.BytesIO(served.content)) as image:
        assert image.size == (8, 6)
        assert not image.getexif()
        assert "exif" not in image.info


async def test_security_headers_on_every_answer(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    account = await sign_up()
    me = await client.get("/api/v1/me", headers=account.headers)
    public = await client.get("/api/v1/territories/36061")
    missing = await client.get("/nowhere")
    for answer in (me, public, missing):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "strict-transport-security" not in answer.headers  # not production
    assert me.headers["cache-control"] == "no-store"  # authenticated JSON
    assert public.headers.get("cache-control") != "no-store"


async def test_production_sends_hsts_and_keeps_docs_private(settings: Settings, database: Database) -> None:
    production = settings.model_copy(update={"environment": "production", "allow_sandbox": set(SANDBOXES)})
    app = create_app(production, database=database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        health = await client.get("/healthz")
        docs = await client.get("/docs")
        schema = await client.get("/openapi.json")
    assert health.headers["strict-transport-security"].startswith("max-age=")
    assert docs.status_code == schema.status_code == 404
    public = settings.model_copy(
        update={"environment": "production", "docs_public": True, "allow_sandbox": set(SANDBOXES)}
    )
    app = create_app(public, database=database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        assert (await client.get("/openapi.json")).status_code == 200


async def test_a_request_id_is_kept_only_when_well_formed(client: httpx.AsyncClient) -> None:
    kept = await client.get("/healthz", headers={"X-Request-ID": "abc-123.trace:9"})
    assert kept.headers["x-request-id"] == "abc-123.trace:9"
    for forged in ("evil\tid", "x" * 65, "a b", '"}{"injected'):
        answer = await client.get("/healthz", headers={"X-Request-ID": forged})
        assert answer.headers["x-request-id"] != forged
        assert len(answer.headers["x-request-id"]) == 32


def test_our_headers_replace_the_answers_own_of_the_same_name() -> None:
    given = [
        (b"content-type", b"application/json"),
        (b"cache-control", b"public, max-age=60"),
        (b"x-request-id", b"from-the-app"),
        (b"x-frame-options", b"SAMEORIGIN"),
    ]
    answer = answer_headers(given, "abc-123", credentialed=True, hsts=True)
    values = {name: [v for n, v in answer if n == name] for name, _ in answer}
    assert values[b"x-request-id"] == [b"abc-123"]
    assert values[b"cache-control"] == [b"no-store"]  # nothing personal stays in a shared cache
    assert values[b"x-frame-options"] == [b"SAMEORIGIN"]  # the answer chose its own framing
    assert values[b"x-content-type-options"] == [b"nosniff"]
    assert values[b"strict-transport-security"][0].startswith(b"max-age=")


def test_an_anonymous_or_non_json_answer_keeps_its_cache_control() -> None:
    page = [(b"content-type", b"text/html; charset=utf-8"), (b"cache-control", b"public, max-age=60")]
    json = [(b"content-type", b"application/json"), (b"cache-control", b"public, max-age=60")]
    for given, credentialed in ((page, True), (json, False)):
        answer = answer_headers(given, "abc", credentialed=credentialed, hsts=False)
        assert (b"cache-control", b"public, max-age=60") in answer
        assert (b"x-frame-options", b"DENY") in answer
        assert not any(name == b"strict-transport-security" for name, _ in answer)
