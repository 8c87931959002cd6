"""Photo uploads read as they arrive (no temporary file, refused before the rest is read) and
their WebP thumbnails, made once and shown by the pages with the original only on demand."""

from __future__ import annotations

import io
import os
import random
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from PIL import Image
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.config import Settings
from ftw.jobs.models import Job, JobPhoto
from tests.conftest import SignUp
from tests.jobs.test_jobs import png
from tests.support.market import post_job

BOUNDARY = "ftwphotos"
TMP = tempfile.gettempdir()  # resolved before the hook below exists (it opens files)
_opened: list[str] | None = None  # temporary files opened while a test records them


def _audit(event: str, args: tuple[object, ...]) -> None:
    if _opened is None:
        return
    if event.startswith("tempfile."):
        _opened.append(event)
    elif event == "open" and (
        str(args[0]).startswith(TMP)
        or (isinstance(args[2], int) and args[2] & os.O_TMPFILE == os.O_TMPFILE)  # unnamed temp file
    ):
        _opened.append(f"open {args[0]}")


sys.addaudithook(_audit)  # hooks cannot be removed; this one records only inside a test


def _body(*parts: tuple[str, bytes]) -> bytes:
    out = b""
    for filename, data in parts:
        out += (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n'
                "Content-Type: image/png\r\n\r\n"
            ).encode()
            + data
            + b"\r\n"
        )
    return out + f"--{BOUNDARY}--\r\n".encode()


class Sender:
    """A request body sent in 64 KB chunks, counting what the server asked for."""

    def __init__(self, body: bytes) -> None:
        self.body, self.sent = body, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.body), 65_536):
            chunk = self.body[start : start + 65_536]
            self.sent += len(chunk)
            yield chunk


def _headers(owner_headers: dict[str, str], body: bytes) -> dict[str, str]:
    return owner_headers | {
        "content-type": f"multipart/form-data; boundary={BOUNDARY}",
        "content-length": str(len(body)),
    }


def _photo(width: int, height: int, fmt: str = "PNG") -> bytes:
    """A noisy photo (noise does not compress: its size is its pixels)."""
    rng = random.Random(width * height)
    image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


async def test_a_photo_past_10_mb_is_refused_before_the_rest_is_read(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, settings: Settings
) -> None:
    owner = await sign_up()
    job = await post_job(client, owner)
    big = png() + b"\x00" * (settings.jobs.max_photo_bytes + 1)
    body = Sender(_body(("big.png", big), ("after.png", b"\x00" * 5_000_000)))
    refused = await client.post(
        f"/api/v1/jobs/{job['id']}/photos", content=body, headers=_headers(owner.headers, body.body)
    )
    assert refused.status_code == 413
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["errors"] == [{"field": "files", "message": "big.png is larger than 10 MB"}]
    assert body.sent < settings.jobs.max_photo_bytes + 200_000 < len(body.body)  # the rest never read
    assert await session.scalar(select(func.count()).select_from(JobPhoto)) == 0


async def test_one_photo_more_than_the_job_takes_is_refused_at_its_headers(
    client: httpx.AsyncClient, sign_up: SignUp, session: AsyncSession, media_root: Path
) -> None:
    owner = await sign_up()
    job = await post_job(client, owner)
    await session.execute(update(Job).where(Job.id == job["id"]).values(photo_count=19))
    body = Sender(_body(("20th.png", png()), ("21st.png", png() + b"\x00" * 3_000_000)))
    refused = await client.post(
        f"/api/v1/jobs/{job['id']}/photos", content=body, headers=_headers(owner.headers, body.body)
    )
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["field"] == "files"
    assert body.sent == 65_536  # the 21st's headers are in the first chunk: nothing more read
    assert await session.scalar(select(func.count()).select_from(JobPhoto)) == 0
    stored = media_root / "jobs" / str(job["id"])  # other tests of this worker share the root
    assert not [path for path in stored.rglob("*") if path.is_file()], "the 20th was deleted again"


async def test_an_upload_writes_no_temporary_file(
    client: httpx.AsyncClient, sign_up: SignUp, media_root: Path
) -> None:
    global _opened
    owner = await sign_up()
    job = await post_job(client, owner)
    photo = _photo(700, 700)  # 1.4 MB: Starlette's parser would have spooled it to disk (past 1 MB)
    assert len(photo) > 1024 * 1024
    _opened = []
    try:
        files = [("files", ("noise.png", photo, "image/png"))]
        uploaded = await client.post(f"/api/v1/jobs/{job['id']}/photos", headers=owner.headers, files=files)
        opened, _opened = _opened, None
    finally:
        _opened = None
    assert uploaded.status_code == 201, uploaded.text
    # The local storage's own files live under /tmp in tests: those are the photo, stored.
    assert [name for name in opened if str(media_root) not in name] == []


async def test_thumbnails_are_webp_at_the_configured_widths_beside_the_original(
    client: httpx.AsyncClient, sign_up: SignUp, settings: Settings, media_root: Path
) -> None:
    owner = await sign_up()
    job = await post_job(client, owner)
    files = [("files", ("wide.jpg", _photo(1200, 800, "JPEG"), "image/jpeg"))]
    uploaded = await client.post(f"/api/v1/jobs/{job['id']}/photos", headers=owner.headers, files=files)
    assert uploaded.status_code == 201, uploaded.text
    (photo,) = uploaded.json()
    assert settings.jobs.thumbnail_widths == [320, 960]
    assert [(t["width"], t["height"]) for t in photo["thumbnails"]] == [(320, 213), (960, 640)]
    original = photo["url"].removesuffix(".jpg")
    for thumbnail in photo["thumbnails"]:
        assert thumbnail["url"] == f"{original}-{thumbnail['width']}.webp"
        served = await client.get(thumbnail["url"])
        with Image.open(io.BytesIO(served.content)) as image:
            assert (image.format, image.size) == ("WEBP", (thumbnail["width"], thumbnail["height"]))
    detail = (await client.get(f"/api/v1/jobs/{job['id']}")).json()
    assert detail["photos"] == [photo]  # the job's output: its old fields and the thumbnails

    narrow = [("files", ("small.png", png(40, 30), "image/png"))]
    (small,) = (
        await client.post(f"/api/v1/jobs/{job['id']}/photos", headers=owner.headers, files=narrow)
    ).json()
    assert [(t["width"], t["height"]) for t in small["thumbnails"]] == [(40, 30)]  # never enlarged
